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
    if config.getoption("--cuda"):
        os.environ["LAB_DEVICE"] = "cuda"
