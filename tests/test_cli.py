"""`python -m labkit download | prepare-offline | check`, run as a learner runs them."""

import os
import subprocess
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def run(args, **env):
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, *args], cwd=NOTEBOOKS, env=full_env,
                          capture_output=True, text=True, timeout=300)


def test_check_reports_settings_device_and_data(stand_in_root):
    r = run(["-m", "labkit", "check"], LAB_DATASET="synthetic", LAB_DATA_DIR=str(stand_in_root))
    assert r.returncode == 0, r.stderr
    assert "torch" in r.stdout and "LAB_PROFILE=" in r.stdout and "Device: " in r.stdout
    assert "present and verified" in r.stdout


def test_check_fails_with_the_allowed_values(tmp_path):
    r = run(["-m", "labkit", "check"], LAB_PROFILE="fast", LAB_DATA_DIR=str(tmp_path))
    assert r.returncode == 1
    assert "Allowed values: full, quick, smoke" in r.stderr
    assert "Traceback" not in r.stderr


def test_check_says_what_to_do_when_cifar10_is_missing(tmp_path):
    r = run(["-m", "labkit", "check"], LAB_DATASET="cifar10", LAB_DATA_DIR=str(tmp_path))
    assert r.returncode == 1
    assert "make data" in r.stdout and "LAB_DATASET=synthetic" in r.stdout


def test_prepare_offline_is_idempotent(stand_in_root):
    manifest = (stand_in_root / "cifar-10-synthetic-batches-py" / "manifest.json").read_bytes()
    r = run(["-m", "labkit", "prepare-offline"], LAB_DATA_DIR=str(stand_in_root))
    assert r.returncode == 0, r.stderr
    assert "ready and verified" in r.stdout
    assert (stand_in_root / "cifar-10-synthetic-batches-py" / "manifest.json").read_bytes() == manifest


def test_download_without_network_is_one_clear_message(tmp_path):
    code = ("import sys, torchvision; from labkit.__main__ import main; "
            "torchvision.datasets.CIFAR10.url = 'http://127.0.0.1:9/cifar-10-python.tar.gz'; "
            "sys.exit(main(['download']))")
    r = run(["-c", code], LAB_DATA_DIR=str(tmp_path))
    assert r.returncode == 1
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert "make data" in r.stderr and "LAB_DATASET=synthetic" in r.stderr
    assert not (tmp_path / "cifar-10-python.tar.gz").exists()


def test_cuda_without_gpu_in_check(tmp_path):
    import torch
    if torch.cuda.is_available():
        return
    r = run(["-m", "labkit", "check"], LAB_DEVICE="cuda", LAB_DATASET="synthetic",
            LAB_DATA_DIR=str(tmp_path))
    assert r.returncode == 1 and "sees no CUDA GPU" in r.stderr and "Traceback" not in r.stderr
