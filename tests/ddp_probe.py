"""Run notebooks/train_ddp.py with recorders around what each rank computes (for tests/test_ddp.py).

A rank's own view is not in the script's output: which training images its sampler handed out
in each epoch, the loss its train_one_epoch returned, which test images it evaluated, and when
it read the data. ``install`` wraps those four places of the ``train_ddp`` module (the code
itself is not changed) and fills ``records``. Launched as a script (under torchrun) it runs
``train_ddp.main`` with the arguments it was given and writes ``rank<RANK>.json`` into the
folder named by LAB_DDP_PROBE_DIR. With LAB_DDP_PROBE_SMALL=1 the offline stand-in it reads
(or generates) is a small one, 500 training and 100 test images, so that a run takes seconds.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "notebooks" / "train_ddp.py"
SMALL = {"n_train": 500, "n_test": 100}


def load_train_ddp():
    """notebooks/train_ddp.py as the module ``train_ddp``, imported by path."""
    if "train_ddp" in sys.modules:
        return sys.modules["train_ddp"]
    spec = importlib.util.spec_from_file_location("train_ddp", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_ddp"] = module
    spec.loader.exec_module(module)
    return module


def new_records() -> dict:
    return {"rank": int(os.environ.get("RANK", "0")), "train_indices": [], "train_loss": [],
            "test_indices": [], "test_sums": [], "load": []}


def install(train_ddp, records: dict, patch=setattr, small: bool = False) -> None:
    """Wrap the sampler, the epoch loop, the test-shard evaluation and the data loading.

    ``patch(obj, name, value)`` sets an attribute (``monkeypatch.setattr`` in a test).
    """

    class RecordingSampler(train_ddp.DistributedSampler):
        def __iter__(self):
            order = list(super().__iter__())       # the indices this rank trains on, in order
            records["train_indices"].append(order)
            return iter(order)

    real_train, real_evaluate, real_load = (train_ddp.train_one_epoch, train_ddp.evaluate_shard,
                                            train_ddp.load_datasets)

    def train_one_epoch(*args, **kwargs):
        loss = real_train(*args, **kwargs)
        records["train_loss"].append(loss)
        return loss

    def evaluate_shard(model, loader, device, loss_fn):
        sums = real_evaluate(model, loader, device, loss_fn)
        records["test_indices"].append(list(loader.dataset.indices))
        records["test_sums"].append(sums.tolist())   # before all_reduce adds the other ranks'
        return sums

    def load_datasets(settings):
        start = time.time()
        result = real_load(settings)
        records["load"].append([start, time.time()])
        return result

    patch(train_ddp, "DistributedSampler", RecordingSampler)
    patch(train_ddp, "train_one_epoch", train_one_epoch)
    patch(train_ddp, "evaluate_shard", evaluate_shard)
    patch(train_ddp, "load_datasets", load_datasets)
    if small:
        import labkit.data
        real_synthetic = labkit.data.load_synthetic

        def load_synthetic(root, train=True, transform=None, **sizes):
            return real_synthetic(root, train=train, transform=transform, **SMALL)

        patch(labkit.data, "load_synthetic", load_synthetic)


def main() -> int:
    train_ddp = load_train_ddp()
    records = new_records()
    install(train_ddp, records, small=os.environ.get("LAB_DDP_PROBE_SMALL") == "1")
    code = train_ddp.main(sys.argv[1:])
    out = Path(os.environ["LAB_DDP_PROBE_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    (out / f"rank{records['rank']}.json").write_text(json.dumps(records))
    return code


if __name__ == "__main__":
    sys.exit(main())
