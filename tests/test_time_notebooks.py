"""tools/time_notebooks.py: one small notebook, timed in a fresh kernel, gives a row of the table."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_times_notebook_00_in_smoke(tmp_path):
    out = tmp_path / "times.md"
    env = {**os.environ, "LAB_DATASET": "synthetic", "LAB_OUTPUT_DIR": str(tmp_path / "outputs")}
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "time_notebooks.py"), "--profile", "smoke",
                        "--out", str(out), str(ROOT / "notebooks" / "00_setup_check.ipynb")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    text = out.read_text()
    assert "torch " in text and "cores" in text and "(smoke)" in text   # date, machine, version, profile
    row = re.search(r"^\| 00_setup_check\.ipynb \| (\d+(?:\.\d+)?) \| (\d+(?:\.\d+)?) \|$", text, re.M)
    assert row, text
    seconds, peak_mb = float(row[1]), float(row[2])
    assert seconds > 0 and peak_mb > 0, text


def test_unknown_profile_is_refused(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "time_notebooks.py"), "--profile", "fast",
                        "--out", str(tmp_path / "t.md")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "unknown profile fast" in r.stderr
    assert not (tmp_path / "t.md").exists()
