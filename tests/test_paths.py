"""The paths a learner or an instructor takes outside CI's own (issue 20), checked without the network.

* Python versions: the versions README.md and the labs advertise are tools/resolve_check.py's ADVERTISED,
  the Makefile's floor is the oldest of them, and the resolver's marker wrapper really evaluates markers
  for the target platform (`make resolve-check` asks the index; this file never does);
* the Makefile checks the Python of .venv when .venv exists, and names a usable Python when it fails;
* an offline room: with wheels/wheelhouse present, the Makefile's install contacts no index
  (PIP_NO_INDEX=1, and a dead proxy) and builds labkit's editable install from the wheelhouse alone;
  without setuptools in the wheelhouse the same install fails, so the wheelhouse is what makes it work;
  `make data` without network generates the stand-in and says that CIFAR-10 could not be downloaded;
* `make publish-check` fails while repo_url is the placeholder, and passes with a real address;
* editions: every `?lab=` link resolves in every LiveLabs edition (manifest) that lists the linking lab;
* the class hub: every lab that tells learners to run `make ...` or `.venv/...` says what to do on the hub;
* Windows: one statement about torchrun everywhere it is mentioned.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
import importlib.util
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name):
    """A script of tools/, imported by its path (the project's code is never found through sys.path)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


publish_check = _tool("publish_check")
resolve_check = _tool("resolve_check")

LABS = ROOT / "labs"
LAB_FILES = sorted(p for p in LABS.glob("*/*.md") if p.stem == p.parent.name)
MANIFESTS = sorted((LABS / "workshops").glob("*/manifest.json"))


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def offline_env(**extra) -> dict[str, str]:
    """This environment without pip settings, with pip's index cut and any web access sent nowhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    dead = "http://127.0.0.1:9"  # the discard port: nothing answers there
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               http_proxy=dead, https_proxy=dead, HTTP_PROXY=dead, HTTPS_PROXY=dead, no_proxy="", NO_PROXY="")
    env.update(extra)
    return env


# --------------------------------------------------------------------------------------------
# Small wheels made here (a wheel is a zip file with a .dist-info folder)
# --------------------------------------------------------------------------------------------

def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def pack_wheel(folder: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    """A py3-none-any wheel of `files` (its .dist-info/METADATA included); WHEEL and RECORD are written here."""
    dist_info = f"{name}-{version}.dist-info"
    contents = dict(files)
    contents[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = [_record_line(n, d) for n, d in contents.items()] + [f"{dist_info}/RECORD,,"]
    contents[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for n, d in contents.items():
            z.writestr(n, d)
    return path


def write_wheel(folder: Path, name: str, version: str, files: dict[str, bytes], requires=()) -> Path:
    """A tiny pure-Python wheel holding `files`, with Requires-Dist lines `requires`."""
    meta = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s" % (
        name, version, "".join(f"Requires-Dist: {r}\n" for r in requires))
    return pack_wheel(folder, name, version, {**files, f"{name}-{version}.dist-info/METADATA": meta.encode()})


def wheel_of_installed(folder: Path, name: str) -> Path:
    """A wheel of a distribution this Python has installed (the files its RECORD lists), e.g. setuptools.

    The offline test needs setuptools as a wheel and must not download it: this repacks the installed
    copy. Only files inside site-packages are taken (no scripts, no caches); METADATA and the entry
    points (setuptools registers its commands there) are kept.
    """
    dist = metadata.distribution(name)
    base = Path(dist.locate_file(""))
    files = {}
    for f in dist.files or []:
        if f.parts[0] == ".." or "__pycache__" in f.parts or f.suffix == ".pyc":
            continue
        if f.parts[0].endswith(".dist-info") and f.name not in ("METADATA", "entry_points.txt", "top_level.txt"):
            continue
        path = base / f
        if path.is_file():
            files["/".join(f.parts)] = path.read_bytes()
    dist_name, version = (next(k for k in files if k.endswith(".dist-info/METADATA")).split("/")[0]
                          .removesuffix(".dist-info").rsplit("-", 1))
    return pack_wheel(folder, dist_name, version, files)


# --------------------------------------------------------------------------------------------
# Python versions
# --------------------------------------------------------------------------------------------

def advertised_phrase() -> str:
    first, last = resolve_check.ADVERTISED[0], resolve_check.ADVERTISED[-1]
    return f"Python {first} to {last}"


def test_the_advertised_pythons_are_the_resolver_s():
    versions = [tuple(map(int, v.split("."))) for v in resolve_check.ADVERTISED]
    assert versions == sorted(versions) and all(b == (a[0], a[1] + 1) for a, b in zip(versions, versions[1:])), \
        "ADVERTISED is a range of consecutive versions"
    makefile = read(ROOT / "Makefile")
    assert re.search(rf"^PYTHON_MIN := {re.escape(resolve_check.ADVERTISED[0])}$", makefile, re.M), \
        "Makefile: PYTHON_MIN is the oldest advertised Python"
    assert re.search(rf"^PYTHON_MAX := {re.escape(resolve_check.ADVERTISED[-1])}$", makefile, re.M), \
        "Makefile: PYTHON_MAX is the newest advertised Python"
    assert resolve_check.EXECUTED in resolve_check.ADVERTISED
    phrase = advertised_phrase()
    for path in [ROOT / "README.md", LABS / "introduction" / "introduction.md", LABS / "run-locally" / "run-locally.md",
                 LABS / "setup-cpu-instance" / "setup-cpu-instance.md"]:
        text = read(path)
        assert phrase in text, f"{path.relative_to(ROOT)}: say which Pythons work: {phrase!r}"
    older = "%d.%d" % (versions[0][0], versions[0][1] - 1)
    for path in [ROOT / "README.md", *LAB_FILES]:
        m = re.search(rf"Python \**{re.escape(older)}\b|{re.escape(older)} (and|or|to) 3\.\d+ work", read(path))
        assert not m, f"{path.relative_to(ROOT)}: {m.group(0)!r}: Python {older} does not resolve the pins"


def test_the_readme_holds_the_resolver_table():
    text = read(ROOT / "README.md")
    for platform in resolve_check.PLATFORMS:
        assert f"| {platform} " in text or f" {platform} |" in text, f"README.md: the resolver table lacks {platform}"
    for version in resolve_check.ADVERTISED:
        assert re.search(rf"^\| {re.escape(version)} \|", text, re.M), f"README.md: the resolver table lacks {version}"
    assert "make resolve-check" in text


def test_platform_tags_include_older_manylinux():
    tags = resolve_check.PLATFORMS["linux-x86_64"]
    for tag in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64"):
        assert tag in tags, f"linux-x86_64 lacks {tag}: pip takes --platform literally"
    assert "manylinux_2_29_x86_64" not in tags, "glibc 2.28 (Oracle Linux 8) is the oldest Linux assumed"
    assert set(resolve_check.PLATFORMS) == set(resolve_check.MARKERS)


def test_the_resolver_ignores_this_machine_s_pip_settings():
    env = resolve_check.clean_env()
    assert env["PIP_CONFIG_FILE"] == os.devnull
    assert not [k for k in env if k.startswith("PIP_") and k not in ("PIP_CONFIG_FILE", "PIP_DISABLE_PIP_VERSION_CHECK")]
    command = resolve_check.pip_command("3.12", "windows-x86_64", ROOT / "requirements.txt", ROOT / "constraints.txt")
    assert command[command.index("--python-version") + 1] == "3.12.99"
    assert "--only-binary=:all:" in command and "--dry-run" in command and "--ignore-installed" in command
    assert command[command.index("--platform") + 1] == "win_amd64"


@pytest.mark.parametrize("platform, needs_linux_only", [("windows-x86_64", False), ("linux-x86_64", True)])
def test_markers_are_evaluated_for_the_target(tmp_path, platform, needs_linux_only):
    """`x; platform_system == "Linux"` is required on Linux only, whatever machine runs the resolver."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    write_wheel(wheels, "toppkg", "1.0", {"toppkg.py": b""},
                requires=['linuxonly==1.0; platform_system == "Linux"', 'newpython==1.0; python_version >= "3.13"'])
    markers = resolve_check.target_markers("3.12", platform)
    command = [sys.executable, str(ROOT / "tools" / "resolve_check.py"), "--run-pip", json.dumps(markers),
               "install", "--dry-run", "--ignore-installed", "--no-index", "--find-links", str(wheels),
               "--only-binary=:all:", "--python-version", "3.12", "--platform", "any", "toppkg"]
    r = subprocess.run(command, capture_output=True, text=True, env=offline_env(), timeout=120)
    if needs_linux_only:
        assert r.returncode != 0 and "linuxonly" in r.stdout + r.stderr, r.stdout + r.stderr
    else:
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Would install toppkg-1.0" in r.stdout and "newpython" not in r.stdout + r.stderr


def test_verdict_flags_both_directions():
    platforms = list(resolve_check.PLATFORMS)
    rows = [{"python": v, "platform": p, "ok": v != "3.10", "detail": "x"} for v in ("3.10", "3.11") for p in platforms]
    assert resolve_check.verdict(rows, advertised=("3.11",)) == []
    assert resolve_check.verdict(rows, advertised=("3.10", "3.11"))  # advertises one that fails
    assert resolve_check.verdict(rows, advertised=())  # leaves out one that resolves everywhere
    table = resolve_check.markdown_table(rows)
    assert "| 3.10 | **fails**" in table and "| 3.11 | resolves" in table


# --------------------------------------------------------------------------------------------
# The Makefile: .venv's Python, and the offline room
# --------------------------------------------------------------------------------------------

@pytest.fixture
def small_repo(tmp_path):
    """A copy of what the Makefile's install needs, with one tiny requirement instead of PyTorch."""
    repo = tmp_path / "repo"
    (repo / "tools" / "jupyterlab").mkdir(parents=True)
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copy(ROOT / "tools" / "check_python.py", repo / "tools")
    shutil.copy(ROOT / "tools" / "jupyterlab" / "overrides.json", repo / "tools" / "jupyterlab")
    shutil.copytree(ROOT / "notebooks" / "labkit", repo / "notebooks" / "labkit",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "requirements.txt").write_text("tinypkg\n")
    (repo / "constraints.txt").write_text("tinypkg==1.0\n")
    house = repo / "wheels" / "wheelhouse"
    house.mkdir(parents=True)
    write_wheel(house, "tinypkg", "1.0", {"tinypkg.py": b"ANSWER = 42\n"})
    wheel_of_installed(house, "setuptools")
    return repo


def make(repo: Path, *args, **env) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=repo, capture_output=True, text=True,
                          env=offline_env(**env), timeout=300)


def quick_venv(repo: Path) -> None:
    """.venv made by hand, as a learner may (the Makefile keeps it): fast, without ensurepip.

    Where the base Python has pip, the venv borrows it (--system-site-packages, --without-pip: a second
    or so instead of ensurepip's install); pip's build isolation still hides the base's packages from
    labkit's build, so setuptools must come from the wheelhouse. Otherwise a plain venv.
    """
    base = Path(sys.base_prefix) / "bin" / "python3"
    has_pip = subprocess.run([str(base), "-c", "import pip"], capture_output=True).returncode == 0
    options = ["--system-site-packages", "--without-pip"] if has_pip else []
    subprocess.run([str(base), "-m", "venv", *options, str(repo / ".venv")], check=True, timeout=600)


@pytest.mark.slow
@pytest.mark.paths
def test_offline_room_installs_from_the_wheelhouse_alone(small_repo):
    quick_venv(small_repo)
    r = make(small_repo, ".venv/.installed", f"PYTHON={sys.executable}")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "no index is contacted" in out and "--no-index --find-links wheels/wheelhouse" in out
    assert "--upgrade pip" not in out, "offline, pip is not upgraded from the index"
    venv_python = small_repo / ".venv" / "bin" / "python"
    check = subprocess.run([str(venv_python), "-c", "import tinypkg, importlib.util as u; "
                            "print(tinypkg.ANSWER, u.find_spec('labkit').origin)"],
                           capture_output=True, text=True, cwd="/")
    assert check.returncode == 0 and check.stdout.startswith("42 "), check.stdout + check.stderr
    assert str(small_repo / "notebooks" / "labkit") in check.stdout, "labkit is the editable install of the copy"

    # Without setuptools in the wheelhouse, labkit's editable build has nothing to build with: it fails.
    for wheel in (small_repo / "wheels" / "wheelhouse").glob("setuptools-*.whl"):
        wheel.unlink()
    (small_repo / "pyproject.toml").touch()
    r = make(small_repo, ".venv/.installed", f"PYTHON={sys.executable}")
    assert r.returncode != 0 and "setuptools" in r.stdout + r.stderr, r.stdout + r.stderr


def test_the_python_of_venv_is_checked_not_make_s_python(small_repo):
    venv = small_repo / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)
    # make's PYTHON does not exist (as python3 may be 3.6 on Oracle Linux): .venv's Python is the one checked.
    r = make(small_repo, ".venv/.installed", "PYTHON=/nonexistent/python3", "PYTHON_MIN=99.0")
    out = r.stdout + r.stderr
    assert r.returncode != 0 and ".venv was made with" in out and "rm -rf .venv && make PYTHON=" in out, out
    assert "/nonexistent" not in out
    ok = subprocess.run([sys.executable, str(ROOT / "tools" / "check_python.py"), "3.0", "99.0", "venv"])
    assert ok.returncode == 0


def test_an_old_python_gets_a_usable_one_named(tmp_path):
    """No new-enough python3.X on PATH: the message says how to install one; with one, it names it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {"PATH": str(bin_dir)}
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "check_python.py"), "99.0", "99.9", "PYTHON"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "No python3.11 to python3.14 is on your PATH" in r.stderr, r.stderr
    (bin_dir / "python3.12").symlink_to(sys.executable)
    minimum = "%d.%d" % sys.version_info[:2]
    r = subprocess.run([sys.executable, "-c", "import sys; sys.version_info = (3, 6, 8); "
                        f"sys.argv = ['check_python.py', '{minimum}', '{minimum}', 'PYTHON']; "
                        f"exec(open({str(ROOT / 'tools' / 'check_python.py')!r}).read())"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "python3.12 is on your PATH" in r.stderr and "make PYTHON=python3.12" in r.stderr, \
        r.stderr


@pytest.mark.slow
@pytest.mark.paths
def test_make_data_offline_makes_the_stand_in(tmp_path):
    """No network: the stand-in is generated, the download fails with its reason, make data ends well."""
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("needs the workshop's .venv (make creates it)")
    r = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed", "data"], cwd=ROOT,
                       capture_output=True, text=True, timeout=600,
                       env=offline_env(LAB_DATA_DIR=str(tmp_path / "data"), LAB_DATASET="cifar10"))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert (tmp_path / "data" / "cifar-10-synthetic-batches-py").is_dir(), out
    assert "could not be downloaded" in out and "the offline stand-in is ready" in out, out


# --------------------------------------------------------------------------------------------
# Publishing
# --------------------------------------------------------------------------------------------

def test_publish_check_fails_on_the_placeholder_and_passes_on_a_real_address(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(LABS, copy / "labs")
    shutil.copy(ROOT / "README.md", copy / "README.md")
    url = json.loads(read(LABS / "variables" / "variables.json"))["repo_url"]
    if publish_check.PLACEHOLDER.search(url):
        assert publish_check.problems(copy), "the placeholder address must fail publish-check"
    real = "https://github.com/some-org/pytorch-workshop"
    for path in [copy / "README.md", copy / "labs" / "variables" / "variables.json",
                 *(copy / "labs" / "workshops").glob("*/manifest*.json"), *(copy / "labs").glob("*/*.md")]:
        # as a publisher does: the variable, and any address written out (Colab links) with it
        path.write_text(read(path).replace(url, real).replace("/YOUR-ORGANISATION/", "/some-org/"), encoding="utf-8")
    assert publish_check.problems(copy) == []
    manifest = copy / "labs" / "workshops" / "local" / "manifest.json"
    manifest.write_text(read(manifest).replace(real + "/issues", real + "/discussions"), encoding="utf-8")
    assert publish_check.problems(copy), "a support link that does not follow repo_url must fail"


def test_the_instructor_guide_runs_publish_check_first():
    text = read(LABS / "for-instructors" / "for-instructors.md")
    first_task = text[text.index("## Task 1:"):text.index("## Task 2:")]
    assert "make publish-check" in first_task.split("\n2. ")[0], \
        "for-instructors.md: Task 1, step 1 runs make publish-check"
    assert "make publish-check" in text[:text.index("## Task 1:")], "the introduction of the guide says so first"


# --------------------------------------------------------------------------------------------
# Editions, the class hub, Windows
# --------------------------------------------------------------------------------------------

def editions():
    for manifest in MANIFESTS:
        data = json.loads(read(manifest))
        stems = [Path(t["filename"]).stem for t in data["tutorials"] if not t["filename"].startswith("http")]
        yield manifest.parent.name, stems


@pytest.mark.parametrize("edition, stems", list(editions()), ids=[e for e, _ in editions()])
def test_lab_links_resolve_in_every_edition(edition, stems):
    """LiveLabs shows the first lab for an unknown ?lab=: a link must name a lab of the same edition."""
    for stem in stems:
        text = read(LABS / stem / f"{stem}.md")
        for target in re.findall(r"\]\(\?lab=([\w-]+)", text):
            assert target in stems, f"{edition} edition: {stem}.md links to ?lab={target}, which it does not list"


def test_the_multi_gpu_lab_is_reachable_from_every_edition_that_points_to_it():
    for edition, stems in editions():
        for stem in stems:
            if "several GPUs and machines" in read(LABS / stem / f"{stem}.md") or "multi-gpu" in read(LABS / stem / f"{stem}.md"):
                assert "multi-gpu" in stems or "?lab=multi-gpu" not in read(LABS / stem / f"{stem}.md"), \
                    f"{edition}: {stem} points to the multi-GPU lab, which the edition does not list"


HUB_COMMAND = re.compile(r"<copy>[^<]*?(\bmake [a-z]|\.venv/bin/)")
HUB_NOTE = "On the class hub"
NOT_ON_A_HUB = {"run-locally", "setup-cpu-instance", "setup-gpu-instance", "multi-gpu", "for-instructors"}


@pytest.mark.parametrize("lab", [p for p in LAB_FILES if p.parent.name not in NOT_ON_A_HUB], ids=lambda p: p.parent.name)
def test_labs_give_the_hub_equivalent(lab):
    text = read(lab)
    flat = re.sub(r"[\s>]+", " ", text).lower()
    if HUB_COMMAND.search(text) or re.search(r"`[A-Z_=a-z ]*make (lab|check|data|test)`", text):
        assert HUB_NOTE.lower() in flat, f"{lab.name}: it tells learners to run make or .venv/...: add '{HUB_NOTE}: ...'"
    guide = read(LABS / "for-instructors" / "for-instructors.md")
    assert "python -m labkit check" in guide and "torchrun --standalone" in guide


TORCHRUN_WINDOWS = "`torchrun` is not supported on native Windows by this workshop: use WSL2"


def test_one_statement_about_torchrun_on_windows():
    """Every paragraph that speaks of torchrun and Windows (or WSL, libuv) says the same thing."""
    mentioned = 0
    for path in [ROOT / "README.md", *LAB_FILES]:
        for paragraph in re.split(r"\n\s*\n", read(path)):
            if "torchrun" in paragraph and re.search(r"Windows|WSL|libuv", paragraph):
                mentioned += 1
                flat = re.sub(r"\s+", " ", paragraph)
                assert TORCHRUN_WINDOWS in flat, \
                    f"{path.relative_to(ROOT)}: {flat[:120]!r}...: use the one statement: {TORCHRUN_WINDOWS!r}"
                assert "USE_LIBUV" not in flat or "not tested" in flat, f"{path.relative_to(ROOT)}: contradictory advice"
    assert mentioned >= 4, "README, run-locally, scaling-out and for-instructors say what torchrun does on Windows"


def test_the_offline_kit_downloads_for_the_room_s_platform():
    """tools/wheelhouse.py: setuptools and wheel always; another platform's tags and markers when asked."""
    wheelhouse = _tool("wheelhouse")

    here = wheelhouse.download_command(Path("wheels/wheelhouse"), None, None, None)
    assert here[1:4] == ["-m", "pip", "download"] and "setuptools>=64" in here and "wheel" in here
    assert "--platform" not in here and "--no-index" not in here
    room = wheelhouse.download_command(Path("w"), "windows-x86_64", "3.13", None)
    assert "--run-pip" in room and json.loads(room[room.index("--run-pip") + 1])["sys_platform"] == "win32"
    assert room[room.index("--platform") + 1] == "win_amd64" and "3.13.99" in room and "--only-binary=:all:" in room
    cpu = wheelhouse.download_command(Path("w"), "linux-aarch64", "3.12", "cpu")
    assert cpu[cpu.index("--index-url") + 1] == wheelhouse.CPU_INDEX and "manylinux2014_aarch64" in cpu
    assert wheelhouse.default_dest("macos-arm64", "3.12").name == "wheelhouse-macos-arm64-py312"
    with pytest.raises(SystemExit):
        wheelhouse.main(["--platform", "windows-x86_64", "--torch", "cpu", "--dry-run"])
    makefile = read(ROOT / "Makefile")
    assert re.search(r"^offline-kit: .*\n(\t.*\n)*\t\$\(BIN\)/python tools/wheelhouse\.py", makefile, re.M)
    assert "labkit download" in makefile.split("offline-kit:")[1].split("\n\n")[0], "the kit holds the data too"
