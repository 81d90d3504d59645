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
