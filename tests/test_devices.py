import time

import pytest
import torch

from labkit import devices
from labkit.devices import Timer, describe, pick_device
from labkit.settings import LabError


def test_cpu_is_the_cpu():
    assert pick_device("cpu") == torch.device("cpu")
    assert describe(torch.device("cpu")).startswith("cpu (")


@pytest.mark.parametrize("gpu", [True, False])
def test_auto_takes_the_gpu_exactly_when_there_is_one(monkeypatch, gpu):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    assert pick_device("auto") == torch.device("cuda" if gpu else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_says_what_to_do():
    with pytest.raises(LabError) as e:
        pick_device("cuda")
    message = str(e.value)
    assert "LAB_DEVICE=cuda" in message and "LAB_DEVICE=auto" in message and "nvidia-smi" in message


def test_timer_measures_the_block():
    with Timer("cpu") as t:
        time.sleep(0.05)
    assert 0.05 <= t.seconds < 5


def test_timer_waits_for_the_gpu_at_both_ends(monkeypatch):
    calls = []
    monkeypatch.setattr(devices, "synchronize", lambda device: calls.append(("sync", str(device))))
    with Timer("cuda") as t:
        calls.append(("work", None))
    assert calls == [("sync", "cuda"), ("work", None), ("sync", "cuda")]
    assert t.seconds >= 0


def test_synchronize_only_touches_cuda_for_a_cuda_device(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(device))
    devices.synchronize("cpu")
    devices.synchronize(torch.device("cuda"))
    assert calls == [torch.device("cuda")]
