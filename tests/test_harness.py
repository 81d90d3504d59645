"""The test harness itself (conftest.py): nbval's run, the second Run All, and cell timeouts.

Each case writes a tiny notebook and runs pytest on it in a subprocess, as `make test` would. The
second Run All is for live editions (a folder named `live`), and for full notebooks with --rerun-full."""

import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def run_notebook(tmp_path, *sources, timeout=60, extra=(), folder="live"):
    (tmp_path / folder).mkdir(exist_ok=True)
    path = tmp_path / folder / "case.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)
    r = subprocess.run([sys.executable, "-m", "pytest", "-c", str(ROOT / "pytest.ini"), "-p", "conftest",
                        str(path), f"--nbval-cell-timeout={timeout}", "-q", "-rA", "--durations=0", *extra],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout + r.stderr


def test_a_notebook_that_reruns_cleanly_passes_both_runs(tmp_path):
    rc, out = run_notebook(tmp_path, "x = globals().get('x', 0) + 1", "assert x in (1, 2)")
    assert rc == 0, out
    assert "PASSED" in out and "Run All again" in out and "3 passed" in out


def test_a_full_notebook_runs_once_unless_asked(tmp_path):
    rc, out = run_notebook(tmp_path, "x = 1", folder="full")
    assert rc == 0 and "Run All again" not in out and "1 passed" in out, out
    rc, out = run_notebook(tmp_path, "x = 1", folder="full", extra=["--rerun-full"])
    assert rc == 0 and "Run All again" in out and "2 passed" in out, out


def test_double_counting_on_the_second_run_fails(tmp_path):
    rc, out = run_notebook(tmp_path, "total = globals().get('total', 0) + 1",
                           "assert total == 1, 'double counted'")
    assert rc == 1, out
    assert "second Run All: cell 1 raised AssertionError: double counted" in out


def test_a_cell_past_the_timeout_fails_even_if_it_catches_the_interrupt(tmp_path):
    slow = "import time\ntry:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    print('caught')"
    rc, out = run_notebook(tmp_path, slow, "print('after')", timeout=3, extra=["--no-rerun"])
    assert rc == 1, out
    assert "FAILED ::Cell 0 - cell 0 ran past --nbval-cell-timeout=3" in out
