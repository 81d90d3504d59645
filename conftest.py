"""Test-run settings shared by the unit tests and the notebook run (nbval).

Unless the caller set them, tests use the offline stand-in and the smallest profile, so that
`make test` runs offline on a 2-core machine in a few minutes, and write their outputs to a
temporary LAB_OUTPUT_DIR. `pytest --cuda` runs everything on the GPU (LAB_DEVICE=cuda), and fails
clearly where there is none.

Three additions to nbval live here:
- the live edition of every notebook (its core path: tools/pace.py) is written to notebooks/live/
  before collection whenever the run includes the notebooks, so nbval runs each full notebook and
  then its live edition: a core cell that needs a name from a deep dive fails there;
- after the last cell of each live edition, one more test item runs every code cell again in the
  same kernel (a learner's second Run All): re-running must not crash, and the check cells
  that end each notebook run again too, so double counting fails them (`--rerun-full` does the
  same for the full notebooks; the live edition holds every core check);
- a cell that nbval interrupted for running past --nbval-cell-timeout fails, even when its code
  caught the KeyboardInterrupt (labkit's `fit` does, on purpose, for learners).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from queue import Empty

import pytest

ROOT = Path(__file__).resolve().parent


def pytest_addoption(parser):
    parser.addoption("--cuda", action="store_true", default=False,
                     help="run every test and notebook with LAB_DEVICE=cuda (needs a GPU)")
    parser.addoption("--no-rerun", action="store_true", default=False,
                     help="skip the second Run All of each live edition (nbval's run stays)")
    parser.addoption("--rerun-full", action="store_true", default=False,
                     help="also run every full notebook a second time in its kernel")


def pytest_configure(config):
    # Set before any notebook kernel starts: kernels inherit this process's environment.
    os.environ.setdefault("LAB_DATASET", "synthetic")
    os.environ.setdefault("LAB_PROFILE", "smoke")
    if not os.environ.get("LAB_OUTPUT_DIR"):
        config._lab_outputs = tempfile.mkdtemp(prefix="lab-test-outputs-")
        os.environ["LAB_OUTPUT_DIR"] = config._lab_outputs
    if config.getoption("--cuda"):
        os.environ["LAB_DEVICE"] = "cuda"
    _write_live_editions(config)


def _write_live_editions(config):
    """Write notebooks/live/ when this run collects the notebooks (no arguments, or notebooks/)."""
    notebooks = ROOT / "notebooks"
    args = [Path(a.split("::")[0]).resolve() for a in config.args] if config.args else [notebooks]
    if not any(a in (notebooks, notebooks / "live") or a.parent == notebooks / "live" for a in args):
        return
    import importlib.util

    spec = importlib.util.spec_from_file_location("lab_pace", ROOT / "tools" / "pace.py")
    pace = importlib.util.module_from_spec(spec)
    sys.modules["lab_pace"] = pace          # dataclasses look their module up there
    spec.loader.exec_module(pace)
    pace.write_live(sorted(notebooks.glob("[0-9][0-9]_*.ipynb")))


def _is_live(item) -> bool:
    return item.path.parent.name == "live"


# ------------------------------------------------------------------------------------------
# nbval: a second Run All in the same kernel, and cell timeouts that cannot be swallowed.
# ------------------------------------------------------------------------------------------

class RunAllAgain(pytest.Item):
    """Every code cell of the notebook once more, in the kernel nbval just used."""

    def runtest(self):
        notebook = self.parent
        if getattr(notebook, "_lab_failed", False):
            pytest.skip("a cell failed in the first run")
        kernel = notebook.kernel
        timeout = float(self.config.option.nbval_cell_timeout)
        for index, cell in enumerate(notebook.nb.cells):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            msg_id = kernel.execute_cell_input(cell.source, allow_stdin=False)
            error = None
            try:
                while True:   # read this cell's outputs until the kernel is idle again
                    msg = kernel.get_message(stream="iopub", timeout=timeout)
                    if msg["parent_header"].get("msg_id") != msg_id:
                        continue
                    if msg["msg_type"] == "error":
                        error = msg["content"]
                    if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                        break
                kernel.await_reply(msg_id, timeout=timeout)
            except Empty:
                kernel.interrupt()
                pytest.fail(f"second Run All: cell {index} ran past {timeout:g} s", pytrace=False)
            if error is not None:
                trace = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error.get("traceback", [])))
                pytest.fail(f"second Run All: cell {index} raised {error['ename']}: "
                            f"{error['evalue']}\n{trace}", pytrace=False)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}::Run All again"


def _is_nbval_cell(item):
    return type(item).__name__ == "IPyNbCell"


def pytest_collection_modifyitems(session, config, items):
    if config.getoption("--no-rerun"):
        return
    rerun_full = config.getoption("--rerun-full")
    out, last_parent = [], None
    for item in items:
        if last_parent is not None and item.parent is not last_parent:
            out.append(RunAllAgain.from_parent(last_parent, name="Run All again"))
            last_parent = None
        out.append(item)
        if _is_nbval_cell(item) and (rerun_full or _is_live(item)):
            last_parent = item.parent
    if last_parent is not None:
        out.append(RunAllAgain.from_parent(last_parent, name="Run All again"))
    items[:] = out


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if not _is_nbval_cell(item) or call.when != "call":
        return
    report = outcome.get_result()
    notebook = item.parent
    if report.passed and notebook.timed_out and not getattr(notebook, "_lab_timeout_seen", False):
        notebook._lab_timeout_seen = True
        report.outcome = "failed"
        report.longrepr = (f"cell {item.cell_num} ran past --nbval-cell-timeout="
                           f"{item.config.option.nbval_cell_timeout} s. nbval interrupted it, and the "
                           "cell caught the KeyboardInterrupt, so it looked successful.")
    if report.failed:
        notebook._lab_failed = True


# ------------------------------------------------------------------------------------------
# A test run must leave the checkout as it found it: everything it writes goes to ignored
# places (LAB_DATA_DIR, LAB_OUTPUT_DIR, temporary folders). Checked once, around the session.
# ------------------------------------------------------------------------------------------

def _git_status():
    try:
        r = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout if r.returncode == 0 else None


def pytest_sessionstart(session):
    session.config._lab_tree_before = _git_status()


def pytest_sessionfinish(session, exitstatus):
    outputs = getattr(session.config, "_lab_outputs", None)
    if outputs:
        shutil.rmtree(outputs, ignore_errors=True)
    before = getattr(session.config, "_lab_tree_before", None)
    after = _git_status()
    if before is None or after is None or before == after:
        return
    changed = sorted(set(after.splitlines()) ^ set(before.splitlines()))
    print("\nThe test run changed the checkout (only ignored paths may be written):")
    for line in changed[:20]:
        print("   ", line)
    session.exitstatus = 1


