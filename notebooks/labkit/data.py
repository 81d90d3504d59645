"""The data: CIFAR-10 through torchvision, and an offline stand-in in CIFAR-10's own format.

Real data
    ``torchvision.datasets.CIFAR10(root, train, download=True, transform)``: the tutorial's call.
    ``load_cifar10`` wraps it so that a missing, half-downloaded or damaged copy ends in one
    message that says what to do.

The offline stand-in
    ``make_synthetic_cifar10`` draws ten classes of simple shapes and textures (their names are
    in ``CLASSES``) as 32x32 colour images and writes them exactly as CIFAR-10 is stored:
    pickled ``data_batch_1`` .. ``data_batch_5``, ``test_batch`` and ``batches.meta``, in their
    own folder, next to a ``manifest.json`` with each file's MD5 checksum.
    ``SyntheticCIFAR10`` reads them with torchvision's own CIFAR-10 code: it changes only the
    folder name and the checksum lists, the way torchvision's ``CIFAR100`` does.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
import torchvision
import torchvision.transforms as transforms
from torch.utils.data import DataLoader, Subset

from .settings import LabError, Settings

# --------------------------------------------------------------------------------------------
# Transforms: the tutorial's, explained in notebook 02.
# --------------------------------------------------------------------------------------------

#: The tutorial normalises every channel with mean 0.5 and standard deviation 0.5,
#: which maps pixel values from [0, 1] to [-1, 1].
TUTORIAL_MEAN = (0.5, 0.5, 0.5)
TUTORIAL_STD = (0.5, 0.5, 0.5)


def tutorial_transform():
    """``ToTensor`` (uint8 HWC 0..255 -> float CHW 0..1), then ``Normalize`` to -1..1."""
    return transforms.Compose([
        transforms.ToTensor(),
        transforms.Normalize(TUTORIAL_MEAN, TUTORIAL_STD),
    ])


def unnormalize(images: torch.Tensor, mean=TUTORIAL_MEAN, std=TUTORIAL_STD) -> torch.Tensor:
    """Undo ``Normalize``: x * std + mean, per channel (works on CHW or NCHW)."""
    shape = (-1, 1, 1)
    mean = torch.as_tensor(mean, dtype=images.dtype, device=images.device).view(shape)
    std = torch.as_tensor(std, dtype=images.dtype, device=images.device).view(shape)
    return images * std + mean


# --------------------------------------------------------------------------------------------
# The offline stand-in: generation.
# --------------------------------------------------------------------------------------------

SYNTHETIC_FOLDER = "cifar-10-synthetic-batches-py"
CIFAR10_FOLDER = torchvision.datasets.CIFAR10.base_folder  # "cifar-10-batches-py"
MANIFEST = "manifest.json"
GENERATOR_VERSION = 1
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILES = ["test_batch"]
META_FILE = "batches.meta"

#: The stand-in's ten classes. Shapes are drawn at a random place, size and colour on a
#: shaded, noisy background; textures fill the whole image at a random angle and scale.
CLASSES = ("circle", "square", "diamond", "triangle", "plus",
           "ring", "star", "stripes", "checkerboard", "dots")

_SIZE = 32


def _coverage(distance):
    """Signed distance to an edge (negative inside) -> how much of a pixel is covered, 0..1."""
    return np.clip(0.5 - distance, 0.0, 1.0)


def _draw_masks(label: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` masks (n, 32, 32) in [0, 1] for one class, every parameter random per image."""
    coords = np.arange(_SIZE, dtype=np.float32)
    y, x = coords[None, :, None], coords[None, None, :]

    def param(low, high):
        return rng.uniform(low, high, size=(n, 1, 1)).astype(np.float32)

    name = CLASSES[label]
    cx, cy = param(10.5, 20.5), param(10.5, 20.5)
    r = param(6.0, 10.0)
    if name in ("square", "plus"):
        angle = param(-0.2, 0.2)                  # upright, give or take about 11 degrees
    elif name == "diamond":
        angle = param(np.pi / 4 - 0.2, np.pi / 4 + 0.2)  # a square turned by 45 degrees
    else:
        angle = param(0.0, 2 * np.pi)
    cos, sin = np.cos(angle), np.sin(angle)
    u = cos * (x - cx) + sin * (y - cy)           # coordinates in the shape's own frame
    v = -sin * (x - cx) + cos * (y - cy)
    rho = np.sqrt(u * u + v * v)

    if name == "circle":
        return _coverage(rho - r)
    if name in ("square", "diamond"):
        return _coverage(np.maximum(np.abs(u), np.abs(v)) - 0.75 * r)
    if name == "triangle":
        edges = [u * np.cos(a) + v * np.sin(a) for a in (np.pi / 2, np.pi * 7 / 6, np.pi * 11 / 6)]
        return _coverage(np.maximum(np.maximum(edges[0], edges[1]), edges[2]) - 0.5 * r)
    if name == "plus":
        w = 0.28 * r
        bar1 = np.maximum(np.abs(u) - w, np.abs(v) - r)
        bar2 = np.maximum(np.abs(v) - w, np.abs(u) - r)
        return _coverage(np.minimum(bar1, bar2))
    if name == "ring":
        return _coverage(np.abs(rho - 0.72 * r) - 0.22 * r)
    if name == "star":
        theta = np.arctan2(v, u)
        return _coverage(rho - r * (0.55 + 0.45 * np.cos(5 * theta)))
    # Textures over the whole image: a period in pixels and a random phase.
    period = param(4.0, 8.0)
    phase_u, phase_v = param(0.0, 2 * np.pi), param(0.0, 2 * np.pi)
    wave_u = np.sin(2 * np.pi * u / period + phase_u)
    wave_v = np.sin(2 * np.pi * v / period + phase_v)
    if name == "stripes":
        return np.clip(0.5 + 1.5 * wave_u, 0.0, 1.0)
    if name == "checkerboard":
        return np.clip(0.5 + 3.0 * wave_u * wave_v, 0.0, 1.0)
    if name == "dots":
        spacing = period + 1.5
        du = np.mod(u + phase_u, spacing) - spacing / 2
        dv = np.mod(v + phase_v, spacing) - spacing / 2
        return _coverage(np.sqrt(du * du + dv * dv) - param(1.2, 2.0))
    raise ValueError(f"unknown class {label}")


def _draw_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Images for the given labels as uint8 (n, 3, 32, 32): CIFAR-10's channel-first layout."""
    n = len(labels)
    images = np.empty((n, 3, _SIZE, _SIZE), dtype=np.uint8)
    ramp = (np.arange(_SIZE, dtype=np.float32) - _SIZE / 2) / _SIZE
    for label in range(len(CLASSES)):
        idx = np.flatnonzero(labels == label)
        k = len(idx)
        if k == 0:
            continue
        mask = _draw_masks(label, k, rng)[:, None]                      # (k, 1, 32, 32)
        # Two random colours: the darker one is the background, the brighter one the shape,
        # at least 0.3 brighter on average (shapes stand out like lit objects).
        a = rng.uniform(0.0, 1.0, (k, 3, 1, 1)).astype(np.float32)
        b = rng.uniform(0.0, 1.0, (k, 3, 1, 1)).astype(np.float32)
        a_is_darker = a.mean(axis=1, keepdims=True) <= b.mean(axis=1, keepdims=True)
        base, fg = np.where(a_is_darker, a, b), np.where(a_is_darker, b, a)
        gap = fg.mean(axis=1, keepdims=True) - base.mean(axis=1, keepdims=True)
        fg = fg + np.maximum(0.3 - gap, 0.0)
        # The background gets a gentle random shading across the image.
        slope_x = rng.uniform(-0.4, 0.4, (k, 3, 1, 1)).astype(np.float32)
        slope_y = rng.uniform(-0.4, 0.4, (k, 3, 1, 1)).astype(np.float32)
        background = base + slope_x * ramp[None, None, None, :] + slope_y * ramp[None, None, :, None]
        noise = rng.normal(0.0, 0.06, (k, 3, _SIZE, _SIZE)).astype(np.float32)
        picture = background * (1.0 - mask) + fg * mask + noise
        images[idx] = np.round(np.clip(picture, 0.0, 1.0) * 255.0).astype(np.uint8)
    return images


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_pickle(obj, path: Path) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)


def make_synthetic_cifar10(folder, n_train: int = 50_000, n_test: int = 10_000, seed: int = 0) -> Path:
    """Write the stand-in into ``folder`` (created) in CIFAR-10's format, with a manifest.

    The same seed gives the same files, byte for byte, so the same checksums.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    batches = []
    for split, n, files in (("train", n_train, TRAIN_FILES), ("test", n_test, TEST_FILES)):
        labels = rng.permutation(np.arange(n) % len(CLASSES))        # balanced, shuffled
        data = _draw_images(labels, rng).reshape(n, -1)               # (n, 3072), as CIFAR-10
        for i, (name, part) in enumerate(zip(files, np.array_split(np.arange(n), len(files)))):
            batch_label = (f"training batch {i + 1} of {len(files)}" if split == "train"
                           else "testing batch 1 of 1")
            batches.append((name, {
                "batch_label": batch_label,
                "labels": [int(v) for v in labels[part]],
                "data": np.ascontiguousarray(data[part]),
                "filenames": [f"{CLASSES[labels[j]]}_{split}_{j:05d}.png" for j in part],
            }))
    for name, batch in batches:
        _write_pickle(batch, folder / name)
    _write_pickle({"num_cases_per_batch": max(1, n_train // len(TRAIN_FILES)),
                   "label_names": list(CLASSES), "num_vis": 3 * _SIZE * _SIZE},
                  folder / META_FILE)
    files = TRAIN_FILES + TEST_FILES + [META_FILE]
    manifest = {
        "dataset": "offline stand-in for CIFAR-10 (synthetic shapes and textures)",
        "generator": "labkit.data.make_synthetic_cifar10",
        "version": GENERATOR_VERSION, "seed": seed, "train": n_train, "test": n_test,
        "classes": list(CLASSES),
        "md5": {name: _md5(folder / name) for name in files},
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def prepare_offline(root, force: bool = False, seed: int = 0, n_train: int = 50_000,
                    n_test: int = 10_000, quiet: bool = False) -> Path:
    """Make sure the stand-in exists under ``root``; generate it if it does not.

    It is written into a temporary folder first and renamed into place at the end, so an
    interrupted run never leaves a half-written dataset behind.
    """
    root = Path(root)
    folder = root / SYNTHETIC_FOLDER
    if folder.exists() and not force:
        return folder
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{SYNTHETIC_FOLDER}-", dir=root))
    except OSError as e:
        raise LabError(f"Cannot write the offline stand-in into {root} ({e.strerror}). "
                       "Set LAB_DATA_DIR to a folder you can write to.") from None
    try:
        if not quiet:
            print(f"Generating the offline stand-in ({n_train:,} + {n_test:,} images) in {folder} ...",
                  flush=True)
        make_synthetic_cifar10(tmp, n_train=n_train, n_test=n_test, seed=seed)
        if force and folder.exists():
            shutil.rmtree(folder)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not folder.exists():   # another process did not win the race: a real error
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


# --------------------------------------------------------------------------------------------
# Reading the data, with clear errors.
# --------------------------------------------------------------------------------------------

def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
        manifest["md5"]  # noqa: B018  (must be there)
        return manifest
    except (OSError, ValueError, KeyError, TypeError):
        raise LabError(f"The offline stand-in in {folder} has no readable {MANIFEST}. "
                       "Regenerate it: python -m labkit prepare-offline --force") from None


class SyntheticCIFAR10(torchvision.datasets.CIFAR10):
    """The offline stand-in, read by torchvision's CIFAR-10 code.

    Only the folder and the checksums differ from ``CIFAR10``; the checksums come from the
    manifest written next to the files. ``download=True`` generates the stand-in if it is missing.
    """

    base_folder = SYNTHETIC_FOLDER

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False):
        folder = Path(root) / self.base_folder
        if download:
            prepare_offline(root)
        md5 = _read_manifest(folder)["md5"]
        self.train_list = [[name, md5.get(name)] for name in TRAIN_FILES]
        self.test_list = [[name, md5.get(name)] for name in TEST_FILES]
        self.meta = {"filename": META_FILE, "key": "label_names", "md5": md5.get(META_FILE)}
        super().__init__(root, train=train, transform=transform,
                         target_transform=target_transform, download=False)

    def download(self) -> None:  # never called: __init__ passes download=False
        prepare_offline(self.root)


def expected_checksums(dataset: str, root) -> tuple[Path, dict]:
    """The folder of a dataset and the MD5 each of its files must have."""
    root = Path(root)
    if dataset == "synthetic":
        folder = root / SYNTHETIC_FOLDER
        return folder, dict(_read_manifest(folder)["md5"])
    cls = torchvision.datasets.CIFAR10
    folder = root / cls.base_folder
    files = dict(cls.train_list + cls.test_list)
    files[cls.meta["filename"]] = cls.meta["md5"]
    return folder, files


def damaged_files(dataset: str, root) -> list[str]:
    """Names of the dataset's files that are missing or fail their checksum."""
    folder, files = expected_checksums(dataset, root)
    return [name for name, md5 in files.items()
            if not (folder / name).is_file() or _md5(folder / name) != md5]


def _remove_partial_archive(root: Path) -> None:
    """Delete a CIFAR-10 archive that a failed download left half-written."""
    cls = torchvision.datasets.CIFAR10
    archive = root / cls.filename
    if archive.exists() and _md5(archive) != cls.tgz_md5:
        archive.unlink()


def load_cifar10(root, train: bool = True, transform=None, download: bool = True):
    """``torchvision.datasets.CIFAR10`` with one clear message when the data cannot be had."""
    root = Path(root)
    folder = root / CIFAR10_FOLDER
    try:  # present and intact: torchvision checks every file's MD5, and no network is needed
        return torchvision.datasets.CIFAR10(root=str(root), train=train, download=False,
                                            transform=transform)
    except RuntimeError:
        pass  # missing or damaged: download (again) below
    bad = damaged_files("cifar10", root) if folder.exists() else []
    try:
        return torchvision.datasets.CIFAR10(root=str(root), train=train, download=download,
                                            transform=transform)
    except Exception as e:  # URLError, SSL errors, a truncated archive, a full disk, ...
        if root.exists():
            _remove_partial_archive(root)
        reason = f"{type(e).__name__}: {e}"
        if bad and folder.exists() and any(folder.iterdir()):
            what = (f"CIFAR-10 in {folder} is damaged: {', '.join(bad)} "
                    "failed its checksum (truncated or altered)")
        else:
            what = f"CIFAR-10 is not in {folder}"
        raise LabError(
            f"{what}, and it could not be downloaded ({reason}). Either run `make data` on a "
            "machine with internet access (it downloads and verifies CIFAR-10; copy the data/ "
            "folder here if this machine is offline), or set LAB_DATASET=synthetic to use the "
            "offline stand-in. Do not disable certificate checks to get around SSL errors."
        ) from None


def load_synthetic(root, train: bool = True, transform=None):
    """The offline stand-in, generated on first use, checked against its manifest."""
    root = Path(root)
    folder = prepare_offline(root)
    try:
        return SyntheticCIFAR10(root=str(root), train=train, transform=transform)
    except LabError:
        raise
    except RuntimeError:  # torchvision: "Dataset not found or corrupted"
        bad = damaged_files("synthetic", root) or ["a file"]
        raise LabError(
            f"The offline stand-in in {folder} is damaged: {', '.join(bad)} failed its checksum "
            "(truncated or altered). Regenerate it (about 10 s): "
            "python -m labkit prepare-offline --force") from None


def load_dataset(settings: Settings, train: bool = True, transform=None):
    """The whole training or test set chosen by ``LAB_DATASET``."""
    if settings.dataset == "synthetic":
        return load_synthetic(settings.data_dir, train=train, transform=transform)
    return load_cifar10(settings.data_dir, train=train, transform=transform)


def profile_subset(dataset, size: int | None):
    """The first ``size`` images of a dataset (all of them when ``size`` is None)."""
    if size is None or size >= len(dataset):
        return dataset
    subset = Subset(dataset, range(size))
    subset.classes = dataset.classes  # so that `.classes` works on the subset too
    return subset


def load_datasets(settings: Settings, transform=None, test_transform=None):
    """The training and test sets for this run, cut to the profile's sizes."""
    test_transform = transform if test_transform is None else test_transform
    train_set = load_dataset(settings, train=True, transform=transform)
    test_set = load_dataset(settings, train=False, transform=test_transform)
    return (profile_subset(train_set, settings.profile.train_size),
            profile_subset(test_set, settings.profile.test_size))


def make_loaders(train_set, test_set, batch_size: int, num_workers: int = 0, seed: int = 0):
    """A shuffled training loader and an in-order test loader.

    ``num_workers=0`` loads batches in the notebook's own process: in notebooks this is the
    safe choice on every operating system (notebook 02 explains why).
    """
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              num_workers=num_workers, generator=generator)
    test_loader = DataLoader(test_set, batch_size=batch_size, shuffle=False,
                             num_workers=num_workers)
    return train_loader, test_loader


def dataset_status(settings: Settings) -> tuple[bool, str]:
    """Is the chosen dataset present and intact? Returns (ok, a sentence saying what to do)."""
    root = settings.data_dir
    if settings.dataset == "synthetic":
        folder = root / SYNTHETIC_FOLDER
        if not folder.exists():
            return True, (f"The offline stand-in is not generated yet; the first notebook that needs "
                          f"it writes it to {folder} (about 10 s), or run: python -m labkit prepare-offline")
        try:
            bad = damaged_files("synthetic", root)
        except LabError as e:
            return False, str(e)
        if bad:
            return False, (f"The offline stand-in in {folder} is damaged ({', '.join(bad)}). "
                           "Fix: python -m labkit prepare-offline --force")
        return True, f"The offline stand-in is present and verified in {folder}."
    folder = root / CIFAR10_FOLDER
    if not folder.exists():
        return False, (f"CIFAR-10 is not in {folder} yet. With internet access, the first notebook "
                       "that needs it downloads it (170 MB), or run `make data` now. Offline, set "
                       "LAB_DATASET=synthetic to use the stand-in.")
    bad = damaged_files("cifar10", root)
    if bad:
        return False, (f"CIFAR-10 in {folder} is damaged ({', '.join(bad)} failed its checksum). "
                       "Fix: run `make data` (it downloads the archive again and re-extracts it).")
    return True, f"CIFAR-10 is present and verified in {folder}."


# --------------------------------------------------------------------------------------------
# The fast path (notebook 05): the whole data set as one tensor, batches cut by indexing.
# --------------------------------------------------------------------------------------------

def as_tensors(dataset, mean=TUTORIAL_MEAN, std=TUTORIAL_STD, device="cpu"):
    """All images of a CIFAR-10-style data set as one normalised float tensor (N, 3, 32, 32).

    Does at once, for every image, what ``ToTensor`` + ``Normalize`` do one PIL image at a time.
    Works on a ``CIFAR10`` (or the stand-in) and on a ``Subset`` of one.
    """
    base, indices = dataset, None
    if isinstance(dataset, Subset):
        base, indices = dataset.dataset, list(dataset.indices)
    pixels = torch.from_numpy(base.data)                       # uint8 (N, 32, 32, 3), HWC
    labels = torch.as_tensor(base.targets, dtype=torch.long)
    if indices is not None:
        pixels, labels = pixels[indices], labels[indices]
    images = pixels.to(device).permute(0, 3, 1, 2).float().div(255)   # float (N, 3, 32, 32), 0..1
    mean = torch.as_tensor(mean, device=images.device).view(1, 3, 1, 1)
    std = torch.as_tensor(std, device=images.device).view(1, 3, 1, 1)
    return (images - mean) / std, labels.to(device)


class TensorLoader:
    """Batches from tensors already in memory (or on the GPU): a fast stand-in for DataLoader.

    Each epoch shuffles with ``torch.randperm`` and cuts the data into slices; there is no
    per-image Python work, no PIL and no worker process. Yields ``(images, labels)`` like
    a DataLoader does.
    """

    def __init__(self, images, labels, batch_size: int, shuffle: bool = False, seed: int = 0):
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle = batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return (len(self.labels) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n = len(self.labels)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.labels.device)
        else:
            order = torch.arange(n, device=self.labels.device)
        for start in range(0, n, self.batch_size):
            index = order[start:start + self.batch_size]
            yield self.images[index], self.labels[index]
