"""The benchmark is a script that prints figures, not a timed test: this checks that it runs
end to end at its smoke sizes and writes valid JSON with the keys readers use (the figures
themselves are never asserted), and that it picks the mixed-precision type as notebook 06 does.
Its GPU rows are run on the CPU by tests/test_gpu_check.py's rehearsal."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "train_speed.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("train_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_speed_smoke_runs_and_writes_json(tmp_path, stand_in_root):
    out = tmp_path / "speed.json"
    # One thread per process: on a busy 2-core machine, more threads only wait for each other.
    env = {**os.environ, "LAB_DATASET": "synthetic", "LAB_DATA_DIR": str(stand_in_root),
           "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--json", str(out)],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "img/s" in r.stdout and "taking turns" in r.stdout
    result = json.loads(out.read_text())
    assert result["machine"]["cores"] >= 1 and result["dataset"] == "synthetic"
    assert result["smoke"] is True and result["repeats"] >= 3
    rows = result["rows"]
    assert [row["recipe"][:2] for row in rows][:2] == ["1.", "2."]
    for row in rows:
        assert row["images_per_s"] > 0 and row["ratio_to_tutorial_cpu"] > 0
        assert row["images_per_s_min"] <= row["images_per_s"] <= row["images_per_s_max"]
        assert len(row["images_per_s_all"]) == result["repeats"]
    race = result["time_to_accuracy"]
    assert set(race) >= {"target", "tutorial", "fast", "ratio", "ratio_min", "ratio_max"}
    assert race["trials"] >= 3
    for name in ("tutorial", "fast"):
        assert len(race[name]["seconds_all"]) == race["trials"]
        assert race[name]["seconds_min"] <= race[name]["seconds"] <= race[name]["seconds_max"]
    assert race["ratio_min"] <= race["ratio"] <= race["ratio_max"]


@pytest.mark.parametrize("capability, native, expected", [
    ((7, 5), False, torch.float16),     # T4: no native bf16 -> float16 with a GradScaler
    ((7, 0), False, torch.float16),     # V100
    ((8, 0), True, torch.bfloat16),     # A100
    ((9, 0), True, torch.bfloat16),     # H100 / H200
])
def test_mixed_precision_type_follows_native_bf16(monkeypatch, capability, native, expected):
    bench = load_benchmark()
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                        lambda including_emulation=True: native or including_emulation)
    assert bench.amp_dtype_for(cuda) == expected

    def old_signature():          # a torch without the including_emulation keyword
        return True
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", old_signature)
    assert bench.amp_dtype_for(cuda) == expected
    assert bench.amp_dtype_for(torch.device("cpu")) == torch.bfloat16


def test_take_turns_alternates_and_spread_summarises():
    bench = load_benchmark()
    calls = []
    out = bench.take_turns({"a": lambda: calls.append("a") or 1, "b": lambda: calls.append("b") or 2}, 3)
    assert calls == ["a", "b", "a", "b", "a", "b"] and out == {"a": [1, 1, 1], "b": [2, 2, 2]}
    assert bench.spread([3, None, 1, 2]) == {"median": 2, "min": 1, "max": 3, "n": 3}
    assert bench.spread([None])["median"] is None


def test_float16_steps_go_through_a_grad_scaler():
    """The float16 path (GPUs without native bf16) scales the loss; here on the CPU, a few steps."""
    from labkit.models import Net
    bench = load_benchmark()
    torch.manual_seed(0)
    net = Net()
    before = [p.detach().clone() for p in net.parameters()]
    step = bench.make_step(net, torch.optim.SGD(net.parameters(), lr=0.01), amp_dtype=torch.float16)
    images, labels = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    losses = [step(images, labels) for _ in range(3)]
    assert all(torch.isfinite(loss) for loss in losses)
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters())), "no step was taken"
