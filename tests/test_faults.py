"""Faults a learner or instructor can hit, provoked on purpose: each ends in one clear message,
and nothing is lost. (Network faults are simulated with a server on 127.0.0.1.)"""

import hashlib
import http.server
import shutil
import tarfile
import threading

import pytest
import torchvision

from labkit.data import SYNTHETIC_FOLDER, damaged_files, load_cifar10
from labkit.settings import LabError

FILES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
         "test_batch", "batches.meta"]


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def fake_cifar10_server(small_stand_in, tmp_path, monkeypatch):
    """Serve a small archive laid out exactly like cifar-10-python.tar.gz, and make torchvision's
    CIFAR10 expect its checksums. ``state["truncate"] = True`` sends only half of it."""
    build = tmp_path / "build" / "cifar-10-batches-py"
    shutil.copytree(small_stand_in / SYNTHETIC_FOLDER, build)
    (build / "manifest.json").unlink()
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(build, arcname="cifar-10-batches-py")
    payload = archive.read_bytes()
    state = {"truncate": False, "requests": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            state["requests"] += 1
            body = payload[: len(payload) // 2] if state["truncate"] else payload
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cls = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cls, "url", f"http://127.0.0.1:{server.server_port}/cifar-10-python.tar.gz")
    monkeypatch.setattr(cls, "tgz_md5", md5(archive))
    monkeypatch.setattr(cls, "train_list", [[f, md5(build / f)] for f in FILES[:5]])
    monkeypatch.setattr(cls, "test_list", [["test_batch", md5(build / "test_batch")]])
    monkeypatch.setattr(cls, "meta", {"filename": "batches.meta", "key": "label_names",
                                      "md5": md5(build / "batches.meta")})
    yield state
    server.shutdown()


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


def test_damaged_file_is_repaired_by_the_next_run(tmp_path, fake_cifar10_server):
    root = tmp_path / "data"
    load_cifar10(root)
    victim = root / "cifar-10-batches-py" / "data_batch_2"
    victim.write_bytes(victim.read_bytes()[:100])
    assert damaged_files("cifar10", root) == ["data_batch_2"]
    ds = load_cifar10(root, train=False)       # what a notebook (or `make data`) does next
    assert len(ds) == 100 and damaged_files("cifar10", root) == []


def test_present_and_verified_data_needs_no_network(tmp_path, fake_cifar10_server):
    root = tmp_path / "data"
    load_cifar10(root)
    requests = fake_cifar10_server["requests"]
    for train in (True, False):
        load_cifar10(root, train=train)
    assert fake_cifar10_server["requests"] == requests


def test_make_lab_binds_to_localhost_with_a_token():
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    makefile = (root / "Makefile").read_text()
    lab_recipe = makefile.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert "--ServerApp.ip=127.0.0.1" in lab_recipe
    for forbidden in ("0.0.0.0", "token=''", 'token=""', "token= ", "--no-token",
                      "disable_check_xsrf"):
        assert forbidden not in lab_recipe


# ---- paths, read-only checkouts, resuming ---------------------------------------------------

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def _tree_snapshot(root):
    """Every file under root except the ignored kinds Python itself writes (bytecode caches)."""
    return {p.relative_to(root): p.stat().st_mtime_ns for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and ".venv" not in p.parts}


def test_a_repo_path_with_spaces_works(tmp_path, small_stand_in):
    """The labkit CLI and the data layer, run from a checkout whose path has spaces in it."""
    import os
    import subprocess
    import sys
    repo = tmp_path / "my workshop copy" / "pytorch classifier"
    shutil.copytree(ROOT / "notebooks" / "labkit", repo / "notebooks" / "labkit")
    data = repo / "data"                                   # the default LAB_DATA_DIR, spaces included
    shutil.copytree(small_stand_in / SYNTHETIC_FOLDER, data / SYNTHETIC_FOLDER)
    env = {k: v for k, v in os.environ.items() if k != "LAB_DATA_DIR"}
    env.update(LAB_DATASET="synthetic")
    r = subprocess.run([sys.executable, "-m", "labkit", "check"], cwd=repo / "notebooks", env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"LAB_DATA_DIR={data}" in r.stdout and "present and verified" in r.stdout


def test_a_run_writes_only_under_lab_data_dir(tmp_path, small_stand_in):
    """What a read-only checkout needs: loading data, training, checkpointing and resuming
    write nothing into the repository when LAB_DATA_DIR points elsewhere."""
    import torch
    import torch.nn as nn

    from labkit.data import load_datasets, make_loaders, tutorial_transform
    from labkit.models import Net
    from labkit.settings import load_settings
    from labkit.training import fit, load_checkpoint

    data_dir = tmp_path / "elsewhere"
    shutil.copytree(small_stand_in / SYNTHETIC_FOLDER, data_dir / SYNTHETIC_FOLDER)
    before = _tree_snapshot(ROOT / "notebooks")
    s = load_settings({"LAB_DATASET": "synthetic", "LAB_PROFILE": "smoke",
                       "LAB_DATA_DIR": str(data_dir)})
    train_set, test_set = load_datasets(s, transform=tutorial_transform())
    train_loader, test_loader = make_loaders(train_set, test_set, batch_size=50)
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
    assert sorted(p.name for p in s.checkpoint_dir.iterdir()) == ["net.pt"]
