"""The data layer: the offline stand-in, the real CIFAR-10 path, loaders, and their errors."""

import http.server
import json
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from labkit import data
from labkit.data import (CLASSES, SYNTHETIC_FOLDER, SyntheticCIFAR10, damaged_files,
                         load_cifar10, load_synthetic, make_loaders, prepare_offline,
                         profile_subset, tutorial_transform)
from labkit.settings import LabError, load_settings

FILES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
         "test_batch", "batches.meta"]


# ---- the stand-in ------------------------------------------------------------------------

def test_stand_in_is_written_in_cifar10s_format(small_stand_in):
    folder = small_stand_in / SYNTHETIC_FOLDER
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES + ["manifest.json"])
    with open(folder / "data_batch_1", "rb") as f:
        batch = pickle.load(f, encoding="latin1")   # exactly how torchvision reads CIFAR-10
    assert set(batch) == {"batch_label", "labels", "data", "filenames"}
    assert batch["data"].dtype == np.uint8 and batch["data"].shape == (100, 3072)
    with open(folder / "batches.meta", "rb") as f:
        meta = pickle.load(f, encoding="latin1")
    assert meta["label_names"] == list(CLASSES)


def test_torchvisions_own_cifar10_code_reads_it(small_stand_in):
    train = SyntheticCIFAR10(small_stand_in, train=True)
    test = SyntheticCIFAR10(small_stand_in, train=False)
    assert isinstance(train, torchvision.datasets.CIFAR10)
    assert (len(train), len(test)) == (500, 100)
    assert train.data.shape == (500, 32, 32, 3) and train.data.dtype == np.uint8
    assert train.classes == list(CLASSES) and len(set(CLASSES)) == 10
    assert np.bincount(train.targets).tolist() == [50] * 10       # balanced classes
    image, label = train[0]
    assert image.size == (32, 32) and 0 <= label < 10              # a PIL image, as CIFAR-10


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    a = prepare_offline(tmp_path / "a", n_train=200, n_test=50, seed=0, quiet=True)
    b = prepare_offline(tmp_path / "b", n_train=200, n_test=50, seed=0, quiet=True)
    c = prepare_offline(tmp_path / "c", n_train=200, n_test=50, seed=1, quiet=True)
    md5 = [json.loads((x / "manifest.json").read_text())["md5"] for x in (a, b, c)]
    assert md5[0] == md5[1]
    assert md5[0]["data_batch_1"] != md5[2]["data_batch_1"]
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_full_size_stand_in_has_cifar10s_sizes(stand_in_root):
    train = SyntheticCIFAR10(stand_in_root, train=True)
    test = SyntheticCIFAR10(stand_in_root, train=False)
    assert (len(train), len(test)) == (50_000, 10_000)
    assert np.bincount(train.targets).tolist() == [5_000] * 10
    assert np.bincount(test.targets).tolist() == [1_000] * 10


def test_download_true_generates_a_missing_stand_in(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "prepare_offline",
                        lambda root: prepare_offline(root, n_train=100, n_test=20, quiet=True))
    ds = SyntheticCIFAR10(tmp_path, train=False, download=True)
    assert len(ds) == 20


def _copy(src: Path, dst: Path) -> Path:
    import shutil
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("damage", ["truncate", "alter", "delete"])
def test_damaged_stand_in_is_detected_and_the_fix_works(small_stand_in, tmp_path, damage):
    root = tmp_path
    _copy(small_stand_in / SYNTHETIC_FOLDER, root / SYNTHETIC_FOLDER)
    victim = root / SYNTHETIC_FOLDER / "data_batch_3"
    raw = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(raw[: len(raw) // 2])
    elif damage == "alter":
        victim.write_bytes(raw[:1000] + bytes([raw[1000] ^ 0xFF]) + raw[1001:])
    else:
        victim.unlink()
    assert damaged_files("synthetic", root) == ["data_batch_3"]
    with pytest.raises(LabError) as e:
        load_synthetic(root)
    assert "data_batch_3" in str(e.value) and "prepare-offline --force" in str(e.value)
    # The fix named in the message works and leaves a verified dataset.
    prepare_offline(root, force=True, n_train=500, n_test=100, quiet=True)
    assert damaged_files("synthetic", root) == []
    assert len(load_synthetic(root)) == 500


def test_missing_manifest_is_a_clear_error(small_stand_in, tmp_path):
    _copy(small_stand_in / SYNTHETIC_FOLDER, tmp_path / SYNTHETIC_FOLDER)
    (tmp_path / SYNTHETIC_FOLDER / "manifest.json").unlink()
    with pytest.raises(LabError, match="prepare-offline --force"):
        load_synthetic(tmp_path)


def test_unwritable_data_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(LabError, match="Set LAB_DATA_DIR"):
        prepare_offline(blocker / "data", quiet=True)


def test_an_interrupted_generation_leaves_nothing_behind(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "make_synthetic_cifar10", boom)
    with pytest.raises(KeyboardInterrupt):
        prepare_offline(tmp_path, quiet=True)
    assert list(tmp_path.iterdir()) == []   # no half-written folder that looks finished


# ---- the real CIFAR-10 path (no network is ever used here) --------------------------------

@pytest.fixture
def no_network(monkeypatch):
    """Point torchvision's CIFAR-10 URL at a closed local port: a download fails at once."""
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "url",
                        "http://127.0.0.1:9/cifar-10-python.tar.gz")


def _assert_names_both_remedies(message):
    assert "make data" in message and "LAB_DATASET=synthetic" in message


def test_missing_cifar10_without_network(tmp_path, no_network):
    with pytest.raises(LabError) as e:
        load_cifar10(tmp_path)
    assert "is not in" in str(e.value)
    _assert_names_both_remedies(str(e.value))
    assert list(tmp_path.iterdir()) == []   # nothing half-written that would block a later download


def test_interrupted_download_leaves_no_partial_archive(tmp_path, monkeypatch):
    """A server that sends only part of the archive: the partial file is removed."""
    payload = b"\x1f\x8b" + b"not the whole archive" * 100

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(torchvision.datasets.CIFAR10, "url",
                            f"http://127.0.0.1:{server.server_port}/cifar-10-python.tar.gz")
        with pytest.raises(LabError) as e:
            load_cifar10(tmp_path)
    finally:
        server.shutdown()
    _assert_names_both_remedies(str(e.value))
    assert not (tmp_path / "cifar-10-python.tar.gz").exists()


def test_damaged_cifar10_is_named_by_file(tmp_path, no_network):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in FILES:
        (folder / name).write_bytes(b"truncated")
    assert set(damaged_files("cifar10", tmp_path)) == set(FILES)
    (folder / "data_batch_1").unlink()
    with pytest.raises(LabError) as e:
        load_cifar10(tmp_path)
    assert "damaged" in str(e.value) and "data_batch_1" in str(e.value)
    _assert_names_both_remedies(str(e.value))


# ---- loaders and profiles ------------------------------------------------------------------

def test_profile_subset_keeps_class_names(small_stand_in):
    ds = SyntheticCIFAR10(small_stand_in, train=True)
    sub = profile_subset(ds, 120)
    assert len(sub) == 120 and sub.classes == list(CLASSES)
    assert profile_subset(ds, None) is ds and profile_subset(ds, 10**6) is ds


def test_loaders_give_normalised_batches(small_stand_in):
    train = SyntheticCIFAR10(small_stand_in, train=True, transform=tutorial_transform())
    test = SyntheticCIFAR10(small_stand_in, train=False, transform=tutorial_transform())
    train_loader, test_loader = make_loaders(train, test, batch_size=16)
    images, labels = next(iter(train_loader))
    assert images.shape == (16, 3, 32, 32) and images.dtype == torch.float32
    assert labels.shape == (16,) and labels.dtype == torch.int64
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert sum(len(y) for _, y in test_loader) == 100
    # The same seed gives the same shuffled order.
    again, _ = make_loaders(train, test, batch_size=16)
    assert torch.equal(next(iter(again))[1], labels)


def test_load_datasets_follows_the_profile(stand_in_root):
    s = load_settings({"LAB_DATASET": "synthetic", "LAB_PROFILE": "smoke",
                       "LAB_DATA_DIR": str(stand_in_root)})
    train, test = data.load_datasets(s, transform=tutorial_transform())
    assert (len(train), len(test)) == (s.profile.train_size, s.profile.test_size)
    assert train.classes == list(CLASSES)


def test_as_tensors_matches_the_per_image_transform(small_stand_in):
    from labkit.data import TensorLoader, as_tensors
    ds = SyntheticCIFAR10(small_stand_in, train=True, transform=tutorial_transform())
    sub = profile_subset(ds, 50)
    images, labels = as_tensors(sub)
    assert images.shape == (50, 3, 32, 32) and labels.shape == (50,)
    for i in (0, 7, 49):
        image, label = ds[i]
        assert torch.allclose(images[i], image, atol=1e-6) and labels[i] == label
    loader = TensorLoader(images, labels, batch_size=16, shuffle=True)
    batches = list(loader)
    assert len(loader) == len(batches) == 4 and len(batches[-1][1]) == 2
    assert sorted(torch.cat([y for _, y in batches]).tolist()) == sorted(labels.tolist())
