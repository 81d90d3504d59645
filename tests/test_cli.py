"""`python -m labkit download | prepare-offline | check`, run as a learner runs them."""

import os
import subprocess
import sys
import tempfile

import pytest
import torch

from labkit.__main__ import main


def run(args, **env):
    """`python -m labkit ...` as a learner types it: in a new process, from a folder outside
    the repository (labkit is installed, so any folder works)."""
    full_env = {**os.environ, **env}
    with tempfile.TemporaryDirectory() as anywhere:
        return subprocess.run([sys.executable, *args], cwd=anywhere, env=full_env,
                              capture_output=True, text=True, timeout=300)


def test_check_reports_settings_device_and_data(stand_in_root):
    r = run(["-m", "labkit", "check"], LAB_DATASET="synthetic", LAB_DATA_DIR=str(stand_in_root))
    assert r.returncode == 0, r.stderr
    assert "torch" in r.stdout and "LAB_PROFILE=" in r.stdout and "Device: " in r.stdout
    assert "present and verified" in r.stdout


def test_check_fails_with_the_allowed_values(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAB_PROFILE", "fast")
    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path))
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "Allowed values: full, quick, smoke" in err and "Traceback" not in err


def test_check_says_what_to_do_when_cifar10_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAB_DATASET", "cifar10")
    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path))
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "make data" in out and "LAB_DATASET=synthetic" in out


def test_prepare_offline_is_idempotent(stand_in_root):
    manifest = (stand_in_root / "cifar-10-synthetic-batches-py" / "manifest.json").read_bytes()
    r = run(["-m", "labkit", "prepare-offline"], LAB_DATA_DIR=str(stand_in_root))
    assert r.returncode == 0, r.stderr
    assert "ready and verified" in r.stdout
    assert (stand_in_root / "cifar-10-synthetic-batches-py" / "manifest.json").read_bytes() == manifest


def test_download_without_network_is_one_clear_message(tmp_path, monkeypatch, capsys):
    import torchvision
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "url", "http://127.0.0.1:9/cifar-10-python.tar.gz")
    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path))
    assert main(["download"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert "make data" in err and "LAB_DATASET=synthetic" in err
    assert not (tmp_path / "cifar-10-python.tar.gz").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_in_check(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAB_DEVICE", "cuda")
    monkeypatch.setenv("LAB_DATASET", "synthetic")
    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path))
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "sees no CUDA GPU" in err and "Traceback" not in err
