"""Faults a learner or instructor can hit, provoked on purpose: each ends in one clear message,
and nothing is lost. (Network faults are simulated with a server on 127.0.0.1.)"""

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torchvision
from conftest import FILES

from labkit.data import damaged_files, load_cifar10, load_datasets, make_loaders, tutorial_transform
from labkit.models import Net
from labkit.settings import LabError, load_settings
from labkit.standin import SYNTHETIC_FOLDER
from labkit.training import fit, load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def fake_cifar10_server(small_stand_in, tmp_path, monkeypatch, serve_bytes):
    """Serve a small archive laid out exactly like cifar-10-python.tar.gz, and make torchvision's
    CIFAR10 expect its checksums. ``state["truncate"] = True`` sends only half of it."""
    build = tmp_path / "build" / "cifar-10-batches-py"
    shutil.copytree(small_stand_in / SYNTHETIC_FOLDER, build)
    (build / "manifest.json").unlink()
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(build, arcname="cifar-10-batches-py")
    payload = archive.read_bytes()
    url, state = serve_bytes(lambda state: payload[: len(payload) // 2] if state.get("truncate")
                             else payload)
    cls = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cls, "url", url)
    monkeypatch.setattr(cls, "tgz_md5", md5(archive))
    monkeypatch.setattr(cls, "train_list", [[f, md5(build / f)] for f in FILES[:5]])
    monkeypatch.setattr(cls, "test_list", [["test_batch", md5(build / "test_batch")]])
    monkeypatch.setattr(cls, "meta", {"filename": "batches.meta", "key": "label_names",
                                      "md5": md5(build / "batches.meta")})
    return state


def test_interrupted_download_then_the_next_run_recovers(tmp_path, fake_cifar10_server):
    root = tmp_path / "data"
    fake_cifar10_server["truncate"] = True
    with pytest.raises(LabError) as e:
        load_cifar10(root)
    assert "make data" in str(e.value) and "LAB_DATASET=synthetic" in str(e.value)
    assert not (root / "cifar-10-python.tar.gz").exists()       # no partial archive kept
    fake_cifar10_server["truncate"] = False
    ds = load_cifar10(root)                                      # no manual clean-up needed
    assert len(ds) == 500 and damaged_files("cifar10", root) == []


@pytest.mark.parametrize("name", ["data_batch_2", "batches.meta"])
@pytest.mark.parametrize("archive", ["archive kept", "archive deleted"])
def test_damaged_file_is_repaired_by_the_next_run(tmp_path, fake_cifar10_server, name, archive):
    root = tmp_path / "data"
    load_cifar10(root)
    if archive == "archive deleted":
        (root / "cifar-10-python.tar.gz").unlink()
    requests = fake_cifar10_server["requests"]
    victim = root / "cifar-10-batches-py" / name
    victim.write_bytes(victim.read_bytes()[:100])
    assert damaged_files("cifar10", root) == [name]
    ds = load_cifar10(root, train=False)       # what a notebook (or `make data`) does next
    assert len(ds) == 100 and damaged_files("cifar10", root) == []
    # A verified archive on disk is extracted again; only a missing one is downloaded (with
    # as many requests as the first download took).
    assert fake_cifar10_server["requests"] - requests == (0 if archive == "archive kept" else requests)


def test_present_and_verified_data_needs_no_network(tmp_path, fake_cifar10_server):
    root = tmp_path / "data"
    load_cifar10(root)
    requests = fake_cifar10_server["requests"]
    for train in (True, False):
        load_cifar10(root, train=train)
    assert fake_cifar10_server["requests"] == requests


# ---- paths, read-only checkouts, resuming ---------------------------------------------------

def _tree_snapshot(root):
    """Every file under root except the ignored kinds Python itself writes (bytecode caches)."""
    return {p.relative_to(root): p.stat().st_mtime_ns for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and ".venv" not in p.parts}


def test_a_repo_path_with_spaces_works(tmp_path, small_stand_in):
    """The labkit CLI and the data layer, run from a checkout whose path has spaces in it."""
    repo = tmp_path / "my workshop copy" / "pytorch classifier"
    shutil.copytree(ROOT / "notebooks" / "labkit", repo / "notebooks" / "labkit")
    shutil.copy2(ROOT / "pyproject.toml", repo / "pyproject.toml")   # what marks a checkout
    data = repo / "data"                                   # the default LAB_DATA_DIR, spaces included
    shutil.copytree(small_stand_in / SYNTHETIC_FOLDER, data / SYNTHETIC_FOLDER)
    env = {k: v for k, v in os.environ.items() if k not in ("LAB_DATA_DIR", "LAB_OUTPUT_DIR")}
    env.update(LAB_DATASET="synthetic", PYTHONPATH=str(repo / "notebooks"))
    r = subprocess.run([sys.executable, "-m", "labkit", "check"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout   # the small stand-in is named as not the workshop's own
    assert f"LAB_DATA_DIR={data}" in r.stdout and f"LAB_OUTPUT_DIR={repo / 'outputs'}" in r.stdout
    assert "training images 500 instead of 50000" in r.stdout


def test_a_run_writes_only_under_lab_output_dir(tmp_path, stand_in_root):
    """Loading data, training, checkpointing and resuming write nothing into the repository
    and nothing into LAB_DATA_DIR: only into LAB_OUTPUT_DIR."""
    before = _tree_snapshot(ROOT / "notebooks")
    data_before = _tree_snapshot(stand_in_root)
    s = load_settings({"LAB_DATASET": "synthetic", "LAB_PROFILE": "smoke",
                       "LAB_DATA_DIR": str(stand_in_root), "LAB_OUTPUT_DIR": str(tmp_path / "out")})
    train_set, test_set = load_datasets(s, transform=tutorial_transform())
    train_loader, test_loader = make_loaders(torch.utils.data.Subset(train_set, range(500)),
                                             torch.utils.data.Subset(test_set, range(100)), batch_size=50)
    torch.manual_seed(0)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    checkpoint = s.checkpoint_dir / "net.pt"
    history = fit(model, train_loader, test_loader, nn.CrossEntropyLoss(), optimizer, "cpu",
                  epochs=1, checkpoint_path=checkpoint, progress=False)

    # Resume in a "new session": a fresh model and optimizer from the last checkpoint.
    model2 = Net()
    optimizer2 = torch.optim.SGD(model2.parameters(), lr=0.01, momentum=0.9)
    state = load_checkpoint(checkpoint, model2, optimizer2)
    resumed = fit(model2, train_loader, test_loader, nn.CrossEntropyLoss(), optimizer2, "cpu",
                  epochs=1, history=state["history"], checkpoint_path=checkpoint, progress=False)
    assert resumed["epoch"] == [1, 2] and resumed["train_loss"][0] == history["train_loss"][0]
    assert load_checkpoint(checkpoint, Net())["history"]["epoch"] == [1, 2]
    assert _tree_snapshot(ROOT / "notebooks") == before
    assert _tree_snapshot(stand_in_root) == data_before
    assert sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "out").rglob("*")) == [
        "out/checkpoints", "out/checkpoints/net.pt"]
