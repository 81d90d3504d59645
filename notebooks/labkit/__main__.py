"""``python -m labkit``: fetch, generate and check the workshop's data.

    python -m labkit download          download CIFAR-10 into LAB_DATA_DIR and verify it
    python -m labkit prepare-offline   generate (or repair) the offline stand-in (about 10 s)
    python -m labkit check             print the settings, the device and the data's state

It works from any folder once labkit is installed (`make` installs it into .venv; by hand:
`python -m pip install -e .` at the repo root). `make data` runs the first two.
Every command exits with 0 when all is well and 1 with a message saying what to do otherwise.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

from .settings import LabError, load_settings


def _download(args) -> int:
    from .data import CIFAR10_FOLDER, damaged_files, load_cifar10

    settings = load_settings()
    print(f"Downloading CIFAR-10 into {settings.data_dir} (about 170 MB) ...", flush=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    load_cifar10(settings.data_dir, train=True)   # downloads, extracts and repairs as needed
    bad = damaged_files("cifar10", settings.data_dir)
    if bad:
        raise LabError(f"After downloading, {', '.join(bad)} still fail their checksum. "
                       f"Delete {settings.data_dir / CIFAR10_FOLDER} and run `make data` again.")
    print(f"CIFAR-10 is present and verified in {settings.data_dir / CIFAR10_FOLDER}.")
    return 0


def _prepare_offline(args) -> int:
    from .standin import prepare_offline, stand_in_problem

    settings = load_settings()
    start = time.perf_counter()
    folder = prepare_offline(settings.data_dir, force=args.force)
    problem = stand_in_problem(folder)
    if problem:
        raise LabError(problem)
    print(f"The offline stand-in is ready and verified in {folder} "
          f"({time.perf_counter() - start:.1f} s). Use it with LAB_DATASET=synthetic.")
    return 0


def _check(args) -> int:
    import torch
    import torchvision

    from .data import dataset_status
    from .devices import describe, pick_device

    settings = load_settings()
    print(f"Python {platform.python_version()}, torch {torch.__version__}, "
          f"torchvision {torchvision.__version__}")
    print(settings.summary())
    device = pick_device(settings.device)
    print(f"Device: {describe(device)}")
    ok, message = dataset_status(settings)
    print(message)
    return 0 if ok else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("download", help="download CIFAR-10 into LAB_DATA_DIR and verify it")
    offline = sub.add_parser("prepare-offline", help="generate the offline stand-in")
    offline.add_argument("--force", action="store_true",
                         help="regenerate it even if it is present and verified (a damaged or "
                              "outdated one is regenerated without it)")
    sub.add_parser("check", help="print the settings, the device and whether the data is there")
    args = parser.parse_args(argv)
    commands = {"download": _download, "prepare-offline": _prepare_offline, "check": _check}
    try:
        return commands[args.command](args)
    except LabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
