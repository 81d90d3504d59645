"""The benchmark is a script that prints figures, not a timed test: this only checks that it
runs end to end and writes valid JSON (tiny sizes; the figures themselves are not asserted)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_train_speed_runs_and_writes_json(tmp_path, stand_in_root):
    out = tmp_path / "speed.json"
    env = {**os.environ, "LAB_DATASET": "synthetic", "LAB_DATA_DIR": str(stand_in_root)}
    r = subprocess.run([sys.executable, "benchmarks/train_speed.py", "--images", "256",
                        "--repeats", "1", "--test-images", "200", "--chunk", "256",
                        "--target", "0.0", "--json", str(out)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "img/s" in r.stdout
    result = json.loads(out.read_text())
    assert result["machine"]["cores"] >= 1 and result["dataset"] == "synthetic"
    recipes = [row["recipe"][:2] for row in result["rows"]]
    assert recipes[:2] == ["1.", "2."]
    assert all(row["images_per_s"] > 0 for row in result["rows"])
    assert set(result["time_to_accuracy"]) >= {"target", "tutorial", "fast"}
