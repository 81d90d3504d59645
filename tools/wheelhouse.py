"""Download a wheelhouse for an offline room: every package `make` installs, as wheels, in one folder.

    python tools/wheelhouse.py [--dest wheels/wheelhouse] [--platform linux-x86_64] [--python-version 3.12]
                               [--torch cpu] [--dry-run]

Run it on a connected machine (`make offline-kit` does, then fetches the data). It downloads
requirements.txt at the versions of constraints.txt, plus setuptools and wheel, which pip needs to build
labkit's editable install without an index. On the room's machines, `make` finds the wheels in
wheels/wheelhouse and installs with `--no-index --find-links wheels/wheelhouse`: no index is contacted.

Without --platform and --python-version the wheels are for this machine (same operating system,
processor and Python). With them, for another kind of machine: pip then takes binary wheels only, for
the platform tags and environment markers of tools/resolve_check.py, and the folder is named after the
target (wheels/wheelhouse-<platform>-py<version>) unless --dest is given: copy it to the room's machines
as wheels/wheelhouse. `--torch cpu` takes torch and torchvision from PyTorch's CPU-only index (Linux
without an NVIDIA GPU: hundreds of MB instead of several GB).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


def _resolve_check():
    """tools/resolve_check.py (the platform tags and the marker wrapper), imported by its path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("resolve_check", Path(__file__).resolve().parent / "resolve_check.py")
    module = sys.modules.get("resolve_check")
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules["resolve_check"] = module
        spec.loader.exec_module(module)
    return module


resolve_check = _resolve_check()

ROOT = Path(__file__).resolve().parent.parent
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PYPI = "https://pypi.org/simple"
# pip needs these to build labkit (pyproject.toml's build-system) when it cannot reach an index.
BUILD = ["setuptools>=64", "wheel"]


def this_platform() -> str | None:
    """This machine's name in resolve_check.PLATFORMS, or None."""
    import platform

    machine, system = platform.machine().lower(), platform.system()
    return {("Linux", "x86_64"): "linux-x86_64", ("Linux", "aarch64"): "linux-aarch64",
            ("Linux", "arm64"): "linux-aarch64", ("Windows", "amd64"): "windows-x86_64",
            ("Darwin", "arm64"): "macos-arm64"}.get((system, machine))


def download_command(dest: Path, platform: str | None, python_version: str | None, torch: str | None,
                     requirements: Path = ROOT / "requirements.txt",
                     constraints: Path = ROOT / "constraints.txt") -> list[str]:
    """The pip command that fills dest."""
    args = ["download", "--dest", str(dest), "-r", str(requirements), "-c", str(constraints), *BUILD]
    if torch == "cpu":
        args += ["--index-url", CPU_INDEX, "--extra-index-url", PYPI]
    if platform or python_version:
        platform = platform or this_platform()
        version = python_version or "%d.%d" % sys.version_info[:2]
        if platform not in resolve_check.PLATFORMS:
            raise SystemExit(f"error: unknown platform {platform!r}; known: {', '.join(resolve_check.PLATFORMS)}")
        args += ["--only-binary=:all:", "--implementation", "cp", "--python-version", f"{version}.99"]
        for tag in resolve_check.PLATFORMS[platform]:
            args += ["--platform", tag]
        markers = resolve_check.target_markers(version, platform)
        return [sys.executable, str(Path(resolve_check.__file__).resolve()), "--run-pip", json.dumps(markers), *args]
    return [sys.executable, "-m", "pip", *args]


def default_dest(platform: str | None, python_version: str | None) -> Path:
    if not platform and not python_version:
        return ROOT / "wheels" / "wheelhouse"
    version = python_version or "%d.%d" % sys.version_info[:2]
    return ROOT / "wheels" / f"wheelhouse-{platform or this_platform()}-py{version.replace('.', '')}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, help="the folder (default: wheels/wheelhouse for this machine)")
    parser.add_argument("--platform", choices=sorted(resolve_check.PLATFORMS), help="the room's platform")
    parser.add_argument("--python-version", help="the room's Python, e.g. 3.12")
    parser.add_argument("--torch", choices=["cpu"], help="cpu: PyTorch's CPU-only wheels (Linux only)")
    parser.add_argument("--dry-run", action="store_true", help="print the pip command, download nothing")
    args = parser.parse_args(argv)
    if args.platform == this_platform() and args.python_version in (None, "%d.%d" % sys.version_info[:2]):
        args.platform = args.python_version = None  # this machine: pip's own tags and markers
    if args.torch == "cpu" and (args.platform or this_platform() or "").split("-")[0] != "linux":
        parser.error("--torch cpu is for Linux: macOS and Windows wheels on PyPI are CPU-only already")
    dest = args.dest
    if dest is None or (args.platform or args.python_version) and dest == Path("wheels/wheelhouse"):
        dest = default_dest(args.platform, args.python_version)
    command = download_command(dest, args.platform, args.python_version, args.torch)
    print(" ".join(command), flush=True)
    if args.dry_run:
        return 0
    dest.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(command, cwd=ROOT)
    if result.returncode == 0:
        count = len(list(dest.glob("*.whl")))
        print(f"wheelhouse: {count} wheels in {dest}")
        if dest.resolve() != (ROOT / "wheels" / "wheelhouse").resolve():
            print("Copy it to each machine of the room as wheels/wheelhouse in the repository's folder.")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
