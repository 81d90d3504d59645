"""tools/time_notebooks.py: one small notebook, timed in a fresh kernel, gives a row of the table and
its cells' run times; the memory sampler sees child processes."""

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.full
def test_times_notebook_00_in_smoke(tmp_path):
    out, cell_times = tmp_path / "times.md", tmp_path / "cells.json"
    env = {**os.environ, "LAB_DATASET": "synthetic", "LAB_OUTPUT_DIR": str(tmp_path / "outputs")}
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "time_notebooks.py"), "--profile", "smoke",
                        "--out", str(out), "--cell-times", str(cell_times),
                        str(ROOT / "notebooks" / "00_setup_check.ipynb")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    text = out.read_text()
    assert "torch " in text and "cores" in text and "(smoke)" in text   # date, machine, version, profile
    row = re.search(r"^\| 00_setup_check\.ipynb \| (\d+(?:\.\d+)?) \| (\d+) / (\d+) \|$", text, re.M)
    assert row, text
    seconds, pss_mb, rss_mb = float(row[1]), float(row[2]), float(row[3])
    assert seconds > 0 and 100 < pss_mb <= rss_mb, text       # a kernel with torch holds well over 100 MB
    cells = json.loads(cell_times.read_text())["notebooks"]["00_setup_check.ipynb"]
    nb = json.loads((ROOT / "notebooks" / "00_setup_check.ipynb").read_text())
    code_ids = [c["id"] for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert sorted(cells) == sorted(code_ids) and all(v >= 0 for v in cells.values())
    assert sum(cells.values()) <= seconds + 0.5


def test_peak_memory_counts_child_processes(tmp_path):
    """A child that holds 300 MB is seen by the process-tree sampler (ru_maxrss of the parent is not)."""
    spec = importlib.util.spec_from_file_location("time_notebooks", ROOT / "tools" / "time_notebooks.py")
    tn = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tn)
    code = "import time; b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096]); print('ready', flush=True); time.sleep(3)"
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {code!r}])"],
                              stdout=subprocess.PIPE, text=True)
    try:
        with tn.TreeMemory(parent.pid, interval=0.05) as tree:
            time.sleep(2.0)
    finally:
        parent.wait(timeout=30)
    assert tree.peak_mb > 250, tree.peak_mb


def test_unknown_profile_is_refused(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "time_notebooks.py"), "--profile", "fast",
                        "--out", str(tmp_path / "t.md")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "unknown profile fast" in r.stderr
    assert not (tmp_path / "t.md").exists()


def test_the_readme_quotes_the_measured_run_times():
    """README's "run time quick / full" column is copied from benchmarks/results/notebook-times.md
    (written by `make timings`), with the machine and date of that table: a stale or hand-made
    figure fails here."""
    table = (ROOT / "benchmarks" / "results" / "notebook-times.md").read_text()
    measured = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and cells[0].endswith(".ipynb"):
            measured[cells[0].removesuffix(".ipynb")] = (cells[1], cells[3])
    assert len(measured) == len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    readme = (ROOT / "README.md").read_text()
    for name, (quick, full) in measured.items():
        assert re.fullmatch(r"[0-9.]+", quick) and re.fullmatch(r"[0-9.]+", full), (
            f"notebook-times.md: {name} has no time ({quick!r}, {full!r}): rerun `make timings`")
        row = next(line for line in readme.splitlines() if line.startswith(f"| [{name}]("))
        assert f"| {quick} s / {full} s |" in row, f"README.md: {name}'s run times differ from notebook-times.md"
    date = re.search(r"on (\d{4}-\d{2}-\d{2}) ", table).group(1)
    assert f"({date}, torch" in readme, "README.md: the run times' date differs from notebook-times.md"
