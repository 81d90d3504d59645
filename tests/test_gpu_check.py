"""tools/gpu_check.py, the one command that proves the GPU paths: what can be proven without a GPU.

- Without a GPU (and without --rehearse) it stops at once, with a message that says what to do.
- Below the version floor it stops, naming the versions.
- It installs only what is missing, from local wheels, into a private folder.
- A CPU rehearsal runs every step's code (data, pytest, benchmark with its GPU rows on the CPU,
  torchrun with gloo, and notebook 07's crash demo, which must fail as planned and not hang) and
  writes its results JSON and Markdown table where it is told to.
- Notebook 06's GPU path, rehearsed on the CPU (LAB_GPU_REHEARSAL=1): every cell runs, and only the
  cells marked cuda_only=True skip themselves, so a first GPU run meets only CUDA-only calls unrun.
The GPU figures themselves are measured by the run and never asserted here.
"""

import pytest
import base64
import hashlib
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "tools" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_check)


def test_without_a_gpu_it_stops_at_once_and_says_what_to_do(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("LAB_OUTPUT_DIR", str(tmp_path))
    ran = []
    monkeypatch.setattr(gpu_check, "run_step", lambda *a, **k: ran.append(a))
    monkeypatch.setattr(gpu_check, "install_missing", lambda *a: ran.append(a))
    assert gpu_check.main(["run"]) == 2
    out = capsys.readouterr().out
    assert "no CUDA GPU is visible" in out and "torch.cuda.is_available() is False" in out
    assert "GPU_CHECK_ARGS=--rehearse" in out
    assert ran == [], "nothing may be installed or run without a GPU"
    assert list(tmp_path.iterdir()) == []


def test_below_the_floor_it_names_the_versions(monkeypatch):
    import torchvision
    monkeypatch.setattr(torch, "__version__", "2.4.1+cu121")
    monkeypatch.setattr(torchvision, "__version__", "0.20.0")
    found, problem = gpu_check.check_versions()
    assert found["torch"] == "2.4.1+cu121"
    assert "torch 2.4.1+cu121 (needs >= 2.5)" in problem and "torchvision 0.20.0 (needs" not in problem
    assert "PYTHON=" in problem
    monkeypatch.setattr(torch, "__version__", "2.11.0+cu130")
    monkeypatch.setattr(torchvision, "__version__", "0.26.0")
    assert gpu_check.check_versions()[1] is None


def test_helpers():
    assert gpu_check.version_tuple("2.11.0+cu130") == (2, 11, 0)
    assert gpu_check.version_tuple("0.20.0a0") == (0, 20, 0)
    assert gpu_check.slug("NVIDIA H200 NVL") == "nvidia-h200-nvl"
    summary, slowest = gpu_check.pytest_summary(
        "stuff\n12.31s call     tests/test_ddp.py::test_x\n"
        "============ 40 passed, 2 skipped in 80.12s (0:01:20) ============\n")
    assert summary.startswith("40 passed, 2 skipped") and slowest == [
        "12.31s call     tests/test_ddp.py::test_x"]


def make_wheel(folder: Path, name: str, version: str = "1.0") -> Path:
    """A minimal pure-Python wheel holding the module ``name`` (written by hand: no build tools)."""
    dist = f"{name}-{version}.dist-info"
    files = {f"{name}.py": b"VALUE = 42\n",
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
             f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


def test_installs_only_what_is_missing_into_a_private_folder(monkeypatch, tmp_path):
    name = "labkit_gpu_check_probe"
    monkeypatch.setattr(gpu_check, "NEEDED", {"json": "json", name: name})
    monkeypatch.setattr(sys, "path", list(sys.path))      # undone after the test
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    wheels.mkdir()

    ok, message = gpu_check.install_missing(wheels, target)
    assert not ok and "make gpu-wheels" in message and name in message

    make_wheel(wheels, name)
    ok, message = gpu_check.install_missing(wheels, target)
    assert ok, message
    assert f"installed 1 into {target}: {name} 1.0" in message   # json is there: not installed
    assert (target / f"{name}.py").exists()
    assert importlib.import_module(name).VALUE == 42
    ok, message = gpu_check.install_missing(wheels, target)
    assert ok and message.startswith("nothing to install")
    sys.modules.pop(name, None)


@pytest.mark.paths
def test_cpu_rehearsal_runs_every_step(tmp_path, stand_in_root):
    """The whole driver on the CPU, each step at its smallest (--minimal): about a minute on a quiet machine."""
    out = tmp_path / "rehearsal.json"
    env = {**os.environ, "LAB_DATA_DIR": str(stand_in_root), "LAB_OUTPUT_DIR": str(tmp_path / "outputs"),
           "PYTHONUNBUFFERED": "1"}
    r = subprocess.run([sys.executable, "tools/gpu_check.py", "run", "--rehearse", "--minimal",
                        "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=900)   # about a minute on a quiet machine; a hang guard
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["rehearsal"] is True and result["all_ok"] is True
    assert [s["step"] for s in result["steps"]] == ["setup", "data", "pytest", "benchmark", "ddp",
                                                    "ddp-crash"]
    assert all(s["ok"] and s["seconds"] >= 0 for s in result["steps"])
    crash = result["steps"][5]
    assert crash["rc"] != 0 and not crash["timed_out"], crash     # it failed, as planned, in time
    assert crash["summary"].startswith("failed as planned"), crash["summary"]
    pytest_step = result["steps"][2]
    assert "passed" in pytest_step["summary"]
    for key in ("date", "gpu", "driver", "cuda", "torch", "torchvision", "python"):
        assert key in result

    bench = result["benchmark"]
    # Without a GPU the benchmark's GPU rows ran on the CPU (where there is one, on the GPU).
    assert bench["rehearsal"] is (not torch.cuda.is_available()) and bench["smoke"] is True
    recipes = [row["recipe"].split(".")[0] for row in bench["rows"]]
    assert recipes[:2] == ["1", "2"] and recipes[-3:] == ["4a", "4b", "4c"], recipes   # CPU rows, then GPU rows
    for row in bench["rows"]:
        assert row["images_per_s_min"] <= row["images_per_s"] <= row["images_per_s_max"]
        assert row["ratio_to_tutorial_cpu"] > 0 and row["ratio_to_tutorial_same_device"] > 0
    assert set(bench["gpu_accuracy"]) == {"net_full_profile", "smallresnet"}
    assert len(bench["targets"]) == 2 and all("passed" in t for t in bench["targets"])

    assert result["ddp"]["world_size"] == 2 and result["ddp"]["backend"] == "gloo"

    # The Markdown table is printed and written beside the JSON.
    table = out.with_suffix(".md").read_text()
    assert "| step | result | seconds | summary |" in table and "| ddp | ok |" in table
    assert "| ddp-crash | ok |" in table
    assert "| 4b. fast GPU recipe" in table and "CPU rehearsal (not a GPU result)" in table
    assert table in r.stdout
    # A rehearsal is never a result: nothing new under benchmarks/results/.
    assert not any(p.name.startswith(result["date"]) and "rehearsal" in p.name
                   for p in (ROOT / "benchmarks" / "results").glob("*"))


@pytest.mark.paths
def test_notebook_06_rehearses_its_gpu_path_on_the_cpu(tmp_path, stand_in_root):
    """Notebook 06 with LAB_GPU_REHEARSAL=1 on the CPU: the cells that a GPU run would execute run
    here too, on the CPU; only the cuda_only=True cells (GPU memory, the GPU's name) are skipped."""
    import nbformat
    from nbclient import NotebookClient

    path = ROOT / "notebooks" / "06_gpu_acceleration.ipynb"
    nb = nbformat.read(path, as_version=4)
    env = {"LAB_GPU_REHEARSAL": "1", "LAB_DEVICE": "cpu", "LAB_PROFILE": "smoke",
           "LAB_DATASET": "synthetic", "LAB_DATA_DIR": str(stand_in_root),
           "LAB_OUTPUT_DIR": str(tmp_path), "MPLBACKEND": "Agg"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)                          # the kernel inherits this environment
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def text(cell):
        return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")

    gated = [c for c in nb.cells if c.cell_type == "code" and "if needs_cuda(" in c.source]
    rehearsed = [c for c in gated if "cuda_only=True" not in c.source]
    cuda_only = [c for c in gated if "cuda_only=True" in c.source]
    assert len(rehearsed) >= 5 and len(cuda_only) >= 3, (len(rehearsed), len(cuda_only))
    for cell in rehearsed:
        assert "Rehearsal on the CPU" in text(cell) and "Skipped:" not in text(cell), cell.source[:200]
    for cell in cuda_only:
        assert "Skipped:" in text(cell), cell.source[:200]
    outputs = "\n".join(text(c) for c in nb.cells if c.cell_type == "code")
    assert "failed here" not in outputs, "torch.compile failed in the rehearsal"
    # Every row was measured, the deep dives' checks ran, and the notebook's own checks passed.
    assert "8 rows, 8 measured on cpu: OK" in outputs
    for line in ("3 of 3 ways measured: OK", "TF32 settings restored", "torch.compile: measured : OK"):
        assert line in outputs, line
