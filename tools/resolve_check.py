"""Check that the pinned install resolves from the public index, for every Python the docs advertise.

For each Python version and each platform a learner may have, this runs pip's own resolver:

    pip install --dry-run --ignore-installed --only-binary=:all: --implementation cp \
        --python-version 3.11.99 --platform TAG [--platform TAG ...] \
        -r requirements.txt -c constraints.txt

with PIP_CONFIG_FILE=/dev/null and no other PIP_* variable, so that a machine's own pip settings (a
local wheel folder, an extra index, a global constraint) cannot hide a pin that a learner's pip would not
find. `--python-version X.Y.99` stands for the newest patch release of X.Y (some pins need X.Y.5 or later).

pip takes a `--platform` tag literally (only `manylinux2014`/`manylinux2010` and macOS tags are expanded),
so each platform below lists every tag a learner's pip would accept there: a wheel tagged
`manylinux_2_27_x86_64` installs on a glibc-2.28 machine, but `--platform manylinux_2_28_x86_64` alone
would not see it.

pip's `--platform` and `--python-version` choose which wheels are acceptable, but pip still evaluates
environment markers (`; platform_system == "Linux"`, `; python_version < "3.15"`) for the machine it runs
on: torch's `nvidia-nccl-cu13==2.30.7; platform_system == "Linux"` would then be demanded for Windows and
macOS too, where no such wheel exists. So pip runs here through a small wrapper (`--run-pip`) that sets
the values markers see (sys_platform, platform_system, platform_machine, os_name, python_version,
python_full_version) to the target's before pip starts; pip's finder and resolver are unchanged.

It needs the index (network). `make resolve-check` runs it; exit status 1 when an advertised version does
not resolve somewhere, or when a version that resolves everywhere is not advertised (ADVERTISED below is
what README.md and the labs must say; tests/test_paths.py checks that they do).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The Python versions README.md, the labs and the Makefile advertise (keep in step: tests/test_paths.py).
ADVERTISED = ("3.11", "3.12", "3.13", "3.14")
# The versions tried: the advertised ones and their neighbours, so that a change is noticed.
CANDIDATES = ("3.10", "3.11", "3.12", "3.13", "3.14", "3.15")
# The version CI executes (the one .ci/run's machine has); the others are only resolved.
EXECUTED = "3.11"

# glibc 2.28 is the oldest a learner's Linux is assumed to have (Oracle Linux 8, RHEL 8; Ubuntu 20.04
# has 2.31): every manylinux tag from there down is accepted by pip on such a machine.
def _manylinux(arch: str, newest: int, oldest: int) -> list[str]:
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(newest, oldest - 1, -1)]
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    tags += [f"{name}_{arch}" for minor, name in legacy.items() if oldest <= minor <= newest]
    return tags


# What environment markers see on each platform (PEP 508 names).
MARKERS = {
    "linux-x86_64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
                     "os_name": "posix"},
    "linux-aarch64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64",
                      "os_name": "posix"},
    "windows-x86_64": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64",
                       "os_name": "nt"},
    "macos-arm64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64",
                    "os_name": "posix"},
}

PLATFORMS = {
    "linux-x86_64": _manylinux("x86_64", 28, 5),
    "linux-aarch64": _manylinux("aarch64", 28, 17),
    "windows-x86_64": ["win_amd64"],
    # pip expands a macOS tag to every older macOS of the same architecture (and universal2).
    # torch's newest wheels need macOS 14 on Apple silicon (labs/run-locally says so).
    "macos-arm64": ["macosx_14_0_arm64"],
}


def target_markers(python_version: str, platform: str) -> dict[str, str]:
    """The marker values of the target: its platform, and the newest patch release of its Python."""
    return {**MARKERS[platform], "python_version": python_version,
            "python_full_version": f"{python_version}.99"}


def pip_command(python_version: str, platform: str, requirements: Path, constraints: Path) -> list[str]:
    """The pip command line for one Python version on one platform (through the marker wrapper)."""
    tags = PLATFORMS[platform]
    command = [sys.executable, str(Path(__file__).resolve()), "--run-pip",
               json.dumps(target_markers(python_version, platform)),
               "install", "--dry-run", "--ignore-installed",
               "--only-binary=:all:", "--implementation", "cp",
               "--python-version", f"{python_version}.99"]
    for tag in tags:
        command += ["--platform", tag]
    command += ["-r", str(requirements), "-c", str(constraints)]
    return command


def clean_env() -> dict[str, str]:
    """This process's environment without any pip setting, and with pip's config files ignored."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def first_error(output: str) -> str:
    """The first line of pip's output that says why it failed (shortened), or its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("ERROR:") or "requires a different Python" in line:
            return re.sub(r"\s+", " ", line)[:200]
    return lines[-1][:200] if lines else "no output"


def resolve(python_version: str, platform: str, requirements: Path, constraints: Path,
            timeout: float) -> dict:
    """Run the resolver once; return {python, platform, ok, seconds, detail}."""
    start = time.monotonic()
    try:
        result = subprocess.run(pip_command(python_version, platform, requirements, constraints),
                                capture_output=True, text=True, env=clean_env(), cwd=ROOT, timeout=timeout)
        ok = result.returncode == 0
        output = result.stdout + result.stderr
        detail = "resolves" if ok else first_error(output)
        if ok:
            wanted = re.search(r"Would install .*\btorch-(\S+)", output)
            detail = f"resolves (torch {wanted.group(1)})" if wanted else "resolves"
    except subprocess.TimeoutExpired:
        ok, detail = False, f"no answer within {timeout:.0f} s (is the index reachable?)"
    return {"python": python_version, "platform": platform, "ok": ok,
            "seconds": time.monotonic() - start, "detail": detail}


def verdict(results: list[dict], advertised=ADVERTISED) -> list[str]:
    """What is wrong with ADVERTISED given the results: an empty list when it is exactly right."""
    problems = []
    by_version: dict[str, list[dict]] = {}
    for r in results:
        by_version.setdefault(r["python"], []).append(r)
    for version, rows in sorted(by_version.items(), key=lambda kv: tuple(map(int, kv[0].split(".")))):
        failed = [r for r in rows if not r["ok"]]
        if version in advertised and failed:
            for r in failed:
                problems.append(f"Python {version} is advertised but does not resolve on {r['platform']}: "
                                f"{r['detail']}")
        elif version not in advertised and not failed and len(rows) == len(PLATFORMS):
            problems.append(f"Python {version} resolves on every platform but is not advertised "
                            "(add it to ADVERTISED, README.md and the labs)")
    return problems


def markdown_table(results: list[dict]) -> str:
    """Python × platform → resolves / fails, and which version CI executes."""
    versions = sorted({r["python"] for r in results}, key=lambda v: tuple(map(int, v.split("."))))
    platforms = [p for p in PLATFORMS if any(r["platform"] == p for r in results)]
    cell = {(r["python"], r["platform"]): r for r in results}
    lines = ["| Python | " + " | ".join(platforms) + " | advertised | CI |",
             "| --- | " + " | ".join(":-:" for _ in platforms) + " | :-: | --- |"]
    for v in versions:
        cells = []
        for p in platforms:
            r = cell.get((v, p))
            cells.append("–" if r is None else ("resolves" if r["ok"] else "**fails**"))
        ci = "executed (Linux x86_64) and resolved" if v == EXECUTED else "resolved only"
        lines.append(f"| {v} | " + " | ".join(cells) + f" | {'yes' if v in ADVERTISED else 'no'} | {ci} |")
    return "\n".join(lines)


def run_pip(markers: dict[str, str], pip_args: list[str]) -> int:
    """Run pip's command line with environment markers evaluated for the target, not for this machine."""
    from pip._internal.cli.main import main as pip_main
    from pip._vendor.packaging import markers as packaging_markers

    here = packaging_markers.default_environment

    def target_environment():
        return {**here(), **markers}

    packaging_markers.default_environment = target_environment
    return pip_main(pip_args)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--run-pip"]:
        return run_pip(json.loads(argv[1]), argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=",".join(CANDIDATES),
                        help="comma-separated Python versions (default: %(default)s)")
    parser.add_argument("--platform", default=",".join(PLATFORMS),
                        help="comma-separated platforms (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=4, help="resolver runs at once (network-bound)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per resolver run")
    parser.add_argument("--requirements", type=Path, default=ROOT / "requirements.txt")
    parser.add_argument("--constraints", type=Path, default=ROOT / "constraints.txt")
    args = parser.parse_args(argv)
    versions = [v.strip() for v in args.python.split(",") if v.strip()]
    platforms = [p.strip() for p in args.platform.split(",") if p.strip()]
    unknown = [p for p in platforms if p not in PLATFORMS]
    if unknown:
        parser.error(f"unknown platform {unknown}; known: {', '.join(PLATFORMS)}")
    jobs = [(v, p) for v in versions for p in platforms]
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(resolve, v, p, args.requirements, args.constraints, args.timeout)
                   for v, p in jobs]
        for future in concurrent.futures.as_completed(futures):
            r = future.result()
            print(f"Python {r['python']:5} {r['platform']:15} {r['seconds']:6.0f} s  {r['detail']}", flush=True)
            results.append(r)
    print()
    print(markdown_table(results))
    problems = verdict(results) if set(platforms) == set(PLATFORMS) else [
        f"Python {r['python']} is advertised but does not resolve on {r['platform']}: {r['detail']}"
        for r in results if r["python"] in ADVERTISED and not r["ok"]]
    print()
    for problem in problems:
        print("error:", problem)
    if not problems:
        print(f"resolve-check: the advertised Pythons {', '.join(ADVERTISED)} resolve on "
              f"{', '.join(platforms)}, and no other tried version resolves everywhere.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
