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
    sys.modules[spec.name] = module           # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def run_smoke(tmp_path, stand_in_root, *extra):
    out = tmp_path / "speed.json"
    # One thread per process: on a busy 2-core machine, more threads only wait for each other.
    env = {**os.environ, "LAB_DATASET": "synthetic", "LAB_DATA_DIR": str(stand_in_root),
           "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--json", str(out),
                        "--md", str(tmp_path / "speed.md"), *extra],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout, json.loads(out.read_text()), (tmp_path / "speed.md").read_text()


def check_load_and_machine(result):
    for when in ("start", "end"):
        load = result["load_average"][when]
        assert load is None or (len(load) == 3 and all(x >= 0 for x in load))
    assert result["machine"]["cores"] >= 1 and result["dataset"] == "synthetic"
    assert {"date", "cpu", "torch", "native_bf16", "cpu_capability"} <= set(result["machine"])
    assert "shared machine" in result["note"]


@pytest.mark.full
def test_train_speed_smoke_runs_and_writes_json(tmp_path, stand_in_root):
    stdout, result, md = run_smoke(tmp_path, stand_in_root)
    assert "img/s" in stdout and "taking turns" in stdout
    check_load_and_machine(result)
    assert result["smoke"] is True and result["repeats"] >= 3
    rows = {row["key"]: row for row in result["rows"]}
    assert [row["recipe"][:2] for row in result["rows"]][:2] == ["1.", "2."]
    # every feature tried has a row: measured, or skipped with the reason (a missing feature)
    skipped = {s["recipe"].split(".")[0]: s["why"] for s in result["skipped_rows"]}
    assert set(rows) | set(skipped) >= {"1", "2", "2a", "2b", "2c", "2d", "2e", "2f", "2g"}
    assert "2d" in skipped                                # no compiling in a smoke run
    assert ("2e" in skipped) == ("2g" in skipped) == (not result["machine"]["native_bf16"])
    peak = result["matmul_fp32"]
    assert peak["flop_per_s_min"] <= peak["flop_per_s"] <= peak["flop_per_s_max"]
    assert len(peak["flop_per_s_all"]) == result["repeats"] and peak["flop_per_s"] > 0
    for row in rows.values():
        assert row["images_per_s"] > 0 and row["ratio_to_tutorial_cpu"] > 0
        assert row["images_per_s_min"] <= row["images_per_s"] <= row["images_per_s_max"]
        assert len(row["images_per_s_all"]) == result["repeats"] and row["warm_up_s"] >= 0
        # the efficiency ratio: achieved training FLOP/s over the matmul rate of the same rounds
        assert 1e6 < row["flops_per_image"] < 1e7               # Net: about 3 MFLOP per image
        assert row["efficiency_min"] <= row["efficiency"] <= row["efficiency_max"]
        assert row["training_flop_per_s"] == pytest.approx(
            row["images_per_s"] * row["flops_per_image"], rel=0.01)
        if row["key"] != "1":   # the ceiling: the same FLOPs, in the conv and linear kernels alone
            assert row["ceiling_flops_per_image"] == pytest.approx(row["flops_per_image"], rel=0.01)
            assert row["ceiling_min"] <= row["ceiling"] <= row["ceiling_max"]
    accuracy = result["accuracy_after_images"]
    seeds = accuracy["seeds"]
    assert len(seeds) == 2 and set(accuracy["accuracy"]) == set(rows) - {"2f"}
    for key, median in accuracy["accuracy"].items():   # a median over the seeds, each a fresh start
        assert len(accuracy["accuracy_all"][key]) == len(seeds)
        assert min(accuracy["accuracy_all"][key]) <= median <= max(accuracy["accuracy_all"][key])
        assert 0 <= median <= 1
    race = result["time_to_accuracy"]
    assert set(race) >= {"target", "tutorial", "fast", "fast_before", "ratio", "ratio_min",
                         "ratio_max", "ratio_with_preparation", "ratio_with_preparation_before"}
    assert race["trials"] >= 3
    racers = {"tutorial", "fast", "fast_before"} | ({"fast_bf16"} if "2g" in rows else set())
    assert set(race["recipes"]) == racers
    assert ("ratio_bf16" in race) == ("2g" in rows)
    for name in racers:
        r = race[name]
        assert len(r["seconds_all"]) == len(r["preparation_s_all"]) == race["trials"]
        assert r["seconds_min"] <= r["seconds"] <= r["seconds_max"]
        assert r["preparation_s_min"] <= r["preparation_s"] <= r["preparation_s_max"]
        assert r["seconds_with_preparation"] >= r["seconds"]
    assert race["ratio_min"] <= race["ratio"] <= race["ratio_max"]
    assert "| 2. fast CPU recipe" in md and "time to" in md and "GFLOP/s" in md


@pytest.mark.paths
def test_class_mode_runs_learners_at_once_with_both_thread_settings(tmp_path, stand_in_root):
    stdout, result, md = run_smoke(tmp_path, stand_in_root, "--class-size", "1,2")
    check_load_and_machine(result)
    rows = result["class"]["rows"]
    assert [(r["learners"], r["threads_setting"]) for r in rows] == [
        (1, "default"), (2, "default"), (1, 1), (2, 1)]
    for r in rows:
        assert len(r["per_learner_all"]) == r["learners"]
        assert r["per_learner_images_per_s_min"] <= r["per_learner_images_per_s"] \
            <= r["per_learner_images_per_s_max"]
        assert r["total_images_per_s"] > 0 and r["preparation_s"] > 0
        assert len(r["load_average_before"]) == len(r["load_average_after"]) == 3
    assert [r["threads_per_learner"] for r in rows if r["threads_setting"] == 1] == [1, 1]
    assert "| learners |" in md and "rows" not in result


def test_bf16_is_native_only_with_the_cpu_flags(monkeypatch):
    bench = load_benchmark()
    flags = {"text": "flags\t\t: fpu avx2 fma\n"}
    monkeypatch.setattr(bench.Path, "read_text", lambda self, *a, **k: flags["text"])
    assert bench.native_bf16()[0] is False
    flags["text"] = "flags\t\t: fpu avx2 avx512f avx512_bf16\n"
    native, why = bench.native_bf16()
    assert native is True and "avx512_bf16" in why


def test_flops_per_image_and_matmul_rate():
    bench = load_benchmark()
    per_image = bench.flops_per_image(bench.CpuRecipe("x", "x", batch=8))
    # conv1 6x28x28x75, conv2 16x10x10x150, fc 400*120+120*84+84*10 multiply-adds, forward
    forward = 2 * (6 * 28 * 28 * 75 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10)
    assert 2 * forward < per_image < 3 * forward       # backward: about twice the forward
    assert bench.matmul_rate(n=64, repeats=2) > 0


@pytest.mark.parametrize("channels_last, bf16", [(False, False), (True, False), (True, True)])
def test_the_ceiling_times_the_training_steps_flops_in_its_kernels_alone(channels_last, bf16):
    """layer_kernels runs Net's conv and linear layers forward and backward on their real
    shapes: the FLOPs it counts are those of a whole training step, and the layers get the
    recipe's layout and precision."""
    bench = load_benchmark()
    recipe = bench.CpuRecipe("x", "x", batch=8, channels_last=channels_last, bf16=bf16)
    run, flops = bench.layer_kernels(recipe)
    assert flops == pytest.approx(8 * bench.flops_per_image(recipe), rel=1e-6)
    assert run() == 8          # images per call, as images_per_second expects
    if bf16:                   # the same FLOPs counted whatever the precision
        assert flops == bench.layer_kernels(bench.CpuRecipe("y", "y", batch=8))[1]


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
