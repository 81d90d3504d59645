"""The data layer: the offline stand-in, the real CIFAR-10 path, loaders, and their errors."""

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from conftest import FILES

from labkit import data, standin
from labkit.data import (damaged_files, load_cifar10, load_synthetic, make_loaders, profile_subset,
                         tutorial_transform)
from labkit.settings import LabError, load_settings
from labkit.standin import CLASSES, SYNTHETIC_FOLDER, SyntheticCIFAR10, prepare_offline

SMALL = {"n_train": 500, "n_test": 100}


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
    train = load_synthetic(stand_in_root, train=True)
    test = load_synthetic(stand_in_root, train=False)
    assert (len(train), len(test)) == (50_000, 10_000)
    assert np.bincount(train.targets).tolist() == [5_000] * 10
    assert np.bincount(test.targets).tolist() == [1_000] * 10


def test_the_stand_in_is_world_readable_whatever_the_umask(tmp_path):
    old = os.umask(0o077)   # the most private umask: mkdtemp alone would give 0700
    try:
        folder = prepare_offline(tmp_path, n_train=100, n_test=20, quiet=True)
    finally:
        os.umask(old)
    assert folder.stat().st_mode & 0o777 == 0o755
    assert {p.stat().st_mode & 0o777 for p in folder.iterdir()} == {0o644}


def test_download_true_generates_a_missing_stand_in(tmp_path, monkeypatch):
    monkeypatch.setattr(standin, "prepare_offline",
                        lambda root: prepare_offline(root, n_train=100, n_test=20, quiet=True))
    ds = SyntheticCIFAR10(tmp_path, train=False, download=True)
    assert len(ds) == 20


def test_a_stand_in_never_generated_says_so(tmp_path):
    with pytest.raises(LabError, match="has not been generated yet") as e:
        SyntheticCIFAR10(tmp_path)
    assert "make data" in str(e.value)


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("damage", ["truncate", "alter", "delete"])
def test_damaged_stand_in_is_detected_and_make_data_repairs_it(small_stand_in, tmp_path, damage):
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
        load_synthetic(root, **SMALL)
    assert "data_batch_3" in str(e.value) and "make data" in str(e.value)
    # What `make data` runs, with no flag: it sees the damage and regenerates.
    prepare_offline(root, quiet=True, **SMALL)
    assert damaged_files("synthetic", root) == []
    assert len(load_synthetic(root, **SMALL)) == 500


@pytest.mark.parametrize("key, value, named", [("version", 0, "generator version 0"),
                                               ("seed", 7, "seed 7"),
                                               ("train", 400, "training images 400")])
def test_a_stand_in_from_another_version_seed_or_size_is_named_not_used(small_stand_in, tmp_path,
                                                                        key, value, named):
    folder = _copy(small_stand_in / SYNTHETIC_FOLDER, tmp_path / SYNTHETIC_FOLDER)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest[key] = value
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(LabError) as e:
        load_synthetic(tmp_path, **SMALL)
    assert named in str(e.value) and "make data" in str(e.value)
    prepare_offline(tmp_path, quiet=True, **SMALL)          # `make data` regenerates it
    assert json.loads((folder / "manifest.json").read_text())[key] != value
    assert len(load_synthetic(tmp_path, **SMALL)) == 500


def test_a_file_missing_from_the_manifest_is_damage_not_verified(small_stand_in, tmp_path):
    folder = _copy(small_stand_in / SYNTHETIC_FOLDER, tmp_path / SYNTHETIC_FOLDER)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["md5"]["data_batch_2"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "data_batch_2").write_bytes(b"anything at all")
    with pytest.raises(LabError, match="no checksum for data_batch_2"):
        load_synthetic(tmp_path, **SMALL)
    with pytest.raises(LabError, match="no checksum for data_batch_2"):
        SyntheticCIFAR10(tmp_path)


def test_missing_manifest_is_a_clear_error(small_stand_in, tmp_path):
    _copy(small_stand_in / SYNTHETIC_FOLDER, tmp_path / SYNTHETIC_FOLDER)
    (tmp_path / SYNTHETIC_FOLDER / "manifest.json").unlink()
    with pytest.raises(LabError, match="has no manifest.json.*make data"):
        load_synthetic(tmp_path, **SMALL)


def test_unwritable_data_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(LabError, match="Set LAB_DATA_DIR"):
        prepare_offline(blocker / "data", quiet=True)


def test_an_interrupted_generation_leaves_nothing_behind(tmp_path, monkeypatch):
    real_write, written = standin._write_pickle, []

    def interrupted_on_the_third_file(obj, path):
        if len(written) == 2:
            raise KeyboardInterrupt
        real_write(obj, path)
        written.append(path)

    monkeypatch.setattr(standin, "_write_pickle", interrupted_on_the_third_file)
    with pytest.raises(KeyboardInterrupt):
        prepare_offline(tmp_path, n_train=100, n_test=20, quiet=True)
    assert len(written) == 2 and all(not p.exists() for p in written)   # files were written...
    assert list(tmp_path.iterdir()) == []   # ...and removed: no half-written folder is left


def test_a_generation_killed_outright_is_cleaned_up_by_the_next_run(tmp_path):
    """SIGKILL runs no `finally`: the temporary folder stays until the next run removes it."""
    code = textwrap.dedent(f"""
        import os, signal
        from labkit import standin
        real, count = standin._write_pickle, []
        def write_then_die(obj, path):
            real(obj, path)
            count.append(path)
            if len(count) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
        standin._write_pickle = write_then_die
        standin.prepare_offline({str(tmp_path)!r}, n_train=100, n_test=20, quiet=True)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == -signal.SIGKILL
    left = list(tmp_path.iterdir())
    assert len(left) == 1 and left[0].name.startswith(f".{SYNTHETIC_FOLDER}-tmp-")
    folder = prepare_offline(tmp_path, n_train=100, n_test=20, quiet=True)
    assert [p.name for p in tmp_path.iterdir()] == [SYNTHETIC_FOLDER]
    assert damaged_files("synthetic", tmp_path) == [] and folder.is_dir()


def test_a_running_generation_is_not_taken_for_an_abandoned_one(tmp_path):
    alive = tmp_path / f".{SYNTHETIC_FOLDER}-tmp-{os.getpid()}-abc"
    alive.mkdir()
    assert standin.remove_abandoned_temp_folders(tmp_path) == [] and alive.exists()


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


# ---- what the loaders hand out, exactly ------------------------------------------------------

def test_the_tensor_loader_shuffles_every_epoch_differently_and_covers_every_image():
    from labkit.data import TensorLoader
    n = 100
    images, labels = torch.arange(n).float().view(n, 1, 1, 1), torch.arange(n)
    loader = TensorLoader(images, labels, batch_size=32, shuffle=True, seed=0)
    epochs = [torch.cat([y for _, y in loader]).tolist() for _ in range(2)]
    for order in epochs:
        assert sorted(order) == list(range(n)), "each epoch shows every image exactly once"
        assert order != list(range(n)), "shuffle=True should not keep the stored order"
    assert epochs[0] != epochs[1], "each epoch should be shuffled anew"
    # Images and labels stay paired, and the same seed gives the same order.
    assert all(torch.equal(x.flatten().long(), y) for x, y in loader)
    again = TensorLoader(images, labels, batch_size=32, shuffle=True, seed=0)
    assert torch.cat([y for _, y in again]).tolist() == epochs[0]
    in_order = TensorLoader(images, labels, batch_size=32)
    assert torch.cat([y for _, y in in_order]).tolist() == list(range(n))


def test_the_training_loader_reshuffles_each_epoch_and_the_test_loader_keeps_the_order():
    n = 64
    ds = torch.utils.data.TensorDataset(torch.zeros(n, 1), torch.arange(n))
    train_loader, test_loader = make_loaders(ds, ds, batch_size=16, seed=3)
    first, second = ([y for _, y in train_loader] for _ in range(2))
    first, second = torch.cat(list(first)).tolist(), torch.cat(list(second)).tolist()
    assert sorted(first) == list(range(n)) and first != list(range(n)) and first != second
    assert torch.cat([y for _, y in test_loader]).tolist() == list(range(n))
    again, _ = make_loaders(ds, ds, batch_size=16, seed=3)
    assert torch.cat([y for _, y in again]).tolist() == first, "the same seed, the same order"


def test_profile_subset_is_the_first_images(small_stand_in):
    ds = SyntheticCIFAR10(small_stand_in, train=False)
    sub = profile_subset(ds, 30)
    assert len(sub) == 30 and list(sub.indices) == list(range(30))
    assert sub[0][1] == ds[0][1] and sub[29][1] == ds[29][1]
    assert profile_subset(ds, None) is ds and profile_subset(ds, 10_000) is ds


def test_a_live_generation_of_another_user_is_not_taken_for_abandoned(tmp_path, monkeypatch):
    """os.kill(pid, 0) on someone else's process raises PermissionError: that process is alive."""
    other = tmp_path / f".{SYNTHETIC_FOLDER}-tmp-4242-abc"
    other.mkdir()

    def not_yours(pid, sig):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(standin.os, "kill", not_yours)
    assert standin.remove_abandoned_temp_folders(tmp_path) == [] and other.exists()

    def gone(pid, sig):
        raise ProcessLookupError(3, "No such process")

    monkeypatch.setattr(standin.os, "kill", gone)
    assert standin.remove_abandoned_temp_folders(tmp_path) == [other] and not other.exists()


#: What the generator draws for n_train=100, n_test=20, seed=0: a SHA-256 of every batch's pixels
#: and labels (not of the pickled files, whose bytes depend on numpy's version), per generator
#: version. If this test fails, the generator draws other images: raise GENERATOR_VERSION in
#: labkit/standin.py (so that old copies are regenerated) and add the new value here.
GENERATED = {1: "991a531afc456de0827110dd197c5d1613f6e7cef86ecfb02898e7576b404f2b"}


def test_the_generator_draws_what_its_version_says(tmp_path):
    import hashlib
    folder = standin.make_synthetic_cifar10(tmp_path, n_train=100, n_test=20, seed=0)
    digest = hashlib.sha256()
    for name in standin.TRAIN_FILES + standin.TEST_FILES:
        with open(folder / name, "rb") as f:
            batch = pickle.load(f)
        digest.update(batch["data"].tobytes())
        digest.update(bytes(batch["labels"]))
    assert standin.GENERATOR_VERSION in GENERATED, (
        f"generator version {standin.GENERATOR_VERSION} has no pinned checksum: add "
        f"{standin.GENERATOR_VERSION}: {digest.hexdigest()!r} to GENERATED")
    assert digest.hexdigest() == GENERATED[standin.GENERATOR_VERSION], (
        "the generator draws other images than its version promises: raise GENERATOR_VERSION in "
        f"labkit/standin.py and pin the new checksum ({digest.hexdigest()})")


def test_the_test_suites_list_of_files_is_the_stand_ins():
    assert FILES == standin.ALL_FILES
