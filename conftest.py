"""Test-run settings shared by the unit tests and the notebook run (nbval).

Unless the caller set them, tests use the offline stand-in and the smallest profile, so that
`make test` runs offline on a 2-core machine in a few minutes. `pytest --cuda` runs everything
on the GPU (LAB_DEVICE=cuda), and fails clearly where there is none.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "notebooks"))  # `import labkit` in the unit tests


def pytest_addoption(parser):
    parser.addoption("--cuda", action="store_true", default=False,
                     help="run every test and notebook with LAB_DEVICE=cuda (needs a GPU)")


def pytest_configure(config):
    # Set before any notebook kernel starts: kernels inherit this process's environment.
    os.environ.setdefault("LAB_DATASET", "synthetic")
    os.environ.setdefault("LAB_PROFILE", "smoke")
    # Kernels started by name ("python3") run `python` from PATH: make that this environment's.
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    if config.getoption("--cuda"):
        os.environ["LAB_DEVICE"] = "cuda"


# A test run must leave the checkout as it found it: everything it writes goes to ignored
# places (LAB_DATA_DIR, temporary folders). Checked once, around the whole session.
def _git_status():
    import subprocess
    try:
        r = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout if r.returncode == 0 else None


def pytest_sessionstart(session):
    session.config._lab_tree_before = _git_status()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_lab_tree_before", None)
    after = _git_status()
    if before is None or after is None or before == after:
        return
    changed = sorted(set(after.splitlines()) ^ set(before.splitlines()))
    print("\nThe test run changed the checkout (only ignored paths may be written):")
    for line in changed[:20]:
        print("   ", line)
    session.exitstatus = 1
