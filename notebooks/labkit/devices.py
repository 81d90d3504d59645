"""Choosing a device, describing it, and timing that waits for the GPU (notebooks 01 and 06)."""

from __future__ import annotations

import time

import torch

from .settings import LabError


def pick_device(choice: str = "auto") -> torch.device:
    """Turn a ``LAB_DEVICE`` value into a ``torch.device``.

    ``auto`` takes the GPU when PyTorch can see one and the CPU otherwise;
    ``cuda`` insists on a GPU and says clearly what to do when there is none.
    """
    if choice == "cpu":
        return torch.device("cpu")
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda":
        if not torch.cuda.is_available():
            build = (f"this PyTorch is built for CUDA {torch.version.cuda}" if torch.version.cuda
                     else "this PyTorch is a CPU-only build")
            raise LabError(
                "LAB_DEVICE=cuda, but PyTorch sees no CUDA GPU "
                f"(torch.cuda.is_available() is False; {build}). "
                "On a laptop or CPU instance, set LAB_DEVICE=auto or LAB_DEVICE=cpu. "
                "On a GPU instance, check that `nvidia-smi` lists the GPU and that the CUDA "
                "build of PyTorch is installed.")
        return torch.device("cuda")
    raise LabError(f"Unknown device {choice!r}. Allowed values: auto, cpu, cuda.")


def describe(device: torch.device) -> str:
    """A short description of a device, for printing."""
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        return f"cuda:{index} ({props.name}, {props.total_memory / 2**30:.0f} GiB)"
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'' if threads == 1 else 's'})"


def synchronize(device) -> None:
    """Wait until the GPU has finished its queued work (does nothing on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


class Timer:
    """Measure wall-clock time of a block, waiting for the GPU at the start and the end.

    GPU work is queued and runs later, so without ``synchronize`` a timer would only
    measure how long it took to *queue* the work.

        with Timer(device) as t:
            train_one_epoch(...)
        print(t.seconds)
    """

    def __init__(self, device="cpu"):
        self.device = device
        self.seconds = float("nan")

    def __enter__(self):
        synchronize(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        synchronize(self.device)
        self.seconds = time.perf_counter() - self._start
        return False
