import pytest
import torch

from labkit.devices import Timer, describe, pick_device, to_device
from labkit.settings import LabError


def test_cpu_and_auto():
    assert pick_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_device("auto").type == expected
    assert describe(torch.device("cpu")).startswith("cpu (")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_says_what_to_do():
    with pytest.raises(LabError) as e:
        pick_device("cuda")
    message = str(e.value)
    assert "LAB_DEVICE=cuda" in message and "LAB_DEVICE=auto" in message and "nvidia-smi" in message


def test_to_device_moves_nested_batches():
    batch = {"x": torch.zeros(2), "pair": (torch.ones(1), [torch.ones(1)]), "n": 3}
    moved = to_device(batch, torch.device("cpu"))
    assert moved["n"] == 3 and isinstance(moved["pair"], tuple)
    assert moved["pair"][1][0].device.type == "cpu"


def test_timer_measures_a_block():
    with Timer("cpu") as t:
        sum(range(1000))
    assert 0 <= t.seconds < 60
