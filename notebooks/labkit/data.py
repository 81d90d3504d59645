"""The data: CIFAR-10 through torchvision, and an offline stand-in in CIFAR-10's own format.

Real data
    ``torchvision.datasets.CIFAR10(root, train, download=True, transform)``: the tutorial's call.
    ``load_cifar10`` wraps it so that a missing, half-downloaded or damaged copy ends in one
    message that says what to do.

The offline stand-in
    ``load_synthetic`` reads it (``labkit.standin`` generates and checks it): a set of shapes and
    textures in CIFAR-10's own format, read by torchvision's own CIFAR-10 code.

The fast path (notebook 05)
    ``as_tensors`` and ``TensorLoader``: the whole data set as one tensor, batches by indexing.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import torch
import torchvision
import torchvision.transforms as transforms
from torch.utils.data import DataLoader, Subset
from torchvision.datasets.utils import check_integrity, download_and_extract_archive

from .settings import LabError, Settings
from .standin import (SYNTHETIC_FOLDER, SyntheticCIFAR10, damaged_message,  # noqa: F401
                      damaged_stand_in_files, prepare_offline, read_manifest, stand_in_problem)

CIFAR10_FOLDER = torchvision.datasets.CIFAR10.base_folder  # "cifar-10-batches-py"

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
# Reading the data, with clear errors.
# --------------------------------------------------------------------------------------------

def expected_checksums(dataset: str, root) -> tuple[Path, dict]:
    """The folder of a dataset and the MD5 each of its files must have."""
    root = Path(root)
    if dataset == "synthetic":
        folder = root / SYNTHETIC_FOLDER
        return folder, dict(read_manifest(folder)["md5"])
    cls = torchvision.datasets.CIFAR10
    folder = root / cls.base_folder
    files = dict(cls.train_list + cls.test_list)
    files[cls.meta["filename"]] = cls.meta["md5"]
    return folder, files


def damaged_files(dataset: str, root) -> list[str]:
    """Names of the dataset's files that are missing or fail their checksum."""
    folder, files = expected_checksums(dataset, root)
    return [name for name, md5 in files.items() if not check_integrity(str(folder / name), md5)]


def _remove_partial_archive(root: Path) -> None:
    """Delete a CIFAR-10 archive that a failed download left half-written."""
    cls = torchvision.datasets.CIFAR10
    archive = root / cls.filename
    if archive.exists() and not check_integrity(str(archive), cls.tgz_md5):
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
    damaged = bool(bad) and any(folder.iterdir())     # some files are there, but not all intact
    try:
        if bad and download:
            # torchvision's download() returns at once when the data batches are intact, even if
            # batches.meta is not, and it never re-extracts over damaged files. So delete what
            # is damaged and extract again: from the archive if it is here and verified (no
            # network needed), else after downloading it.
            cls = torchvision.datasets.CIFAR10
            for name in bad:
                (folder / name).unlink(missing_ok=True)
            download_and_extract_archive(cls.url, str(root), filename=cls.filename, md5=cls.tgz_md5)
        return torchvision.datasets.CIFAR10(root=str(root), train=train, download=download,
                                            transform=transform)
    except Exception as e:  # URLError, SSL errors, a truncated archive, a full disk, ...
        if root.exists():
            _remove_partial_archive(root)
        reason = f"{type(e).__name__}: {e}"
        if damaged:
            what = (f"CIFAR-10 in {folder} is damaged: {', '.join(bad)} "
                    "failed its checksum (truncated or altered)")
        else:
            what = f"CIFAR-10 is not in {folder}"
        raise LabError(
            f"{what}, and it could not be downloaded ({reason}). Either run `make data` on a "
            "machine with internet access (it downloads and verifies CIFAR-10; copy the data/ "
            "folder here if this machine is offline), or set LAB_DATASET=synthetic to use the "
            "offline stand-in. Do not disable certificate checks to get around SSL errors."
        ) from (None if isinstance(e, (OSError, RuntimeError, EOFError, tarfile.TarError)) else e)


def load_synthetic(root, train: bool = True, transform=None, n_train: int = 50_000,
                   n_test: int = 10_000):
    """The offline stand-in: generated on first use, then checked against its manifest.

    A copy that is damaged, or was made by another version, seed or size, is named and not
    used: ``make data`` (or ``python -m labkit prepare-offline``) repairs it.
    """
    root = Path(root)
    folder = root / SYNTHETIC_FOLDER
    if not folder.exists():
        prepare_offline(root, n_train=n_train, n_test=n_test)
    problem = stand_in_problem(folder, n_train=n_train, n_test=n_test,  # version, seed, sizes,
                               check_files=False)                       # the file list
    if problem:
        raise LabError(problem)
    try:   # torchvision checks every file's MD5 here
        return SyntheticCIFAR10(root=str(root), train=train, transform=transform)
    except RuntimeError:  # "Dataset not found or corrupted"
        bad = damaged_stand_in_files(folder, read_manifest(folder)) or ["a file"]
        raise LabError(damaged_message(folder, bad)) from None


def load_dataset(settings: Settings, train: bool = True, transform=None):
    """The whole training or test set chosen by ``LAB_DATASET``."""
    if settings.dataset == "synthetic":
        return load_synthetic(settings.data_dir, train=train, transform=transform)
    return load_cifar10(settings.data_dir, train=train, transform=transform)


def profile_subset(dataset, size: int | None):
    """The first ``size`` images of a dataset (all of them when ``size`` is None).

    Notebook 02 calls the tutorial's whole sets ``trainset`` and ``testset``, and this run's parts of
    them ``train_subset`` and ``test_subset``.
    """
    if size is None or size >= len(dataset):
        return dataset
    subset = Subset(dataset, range(size))
    subset.classes = dataset.classes  # so that `.classes` works on the subset too
    return subset


def load_datasets(settings: Settings, transform=None, test_transform=None):
    """``(train_subset, test_subset)``: this run's part of the whole ``trainset`` and ``testset``.

    Both are cut to the profile's sizes (``profile_subset``); ``test_transform`` defaults to ``transform``.
    """
    test_transform = transform if test_transform is None else test_transform
    trainset = load_dataset(settings, train=True, transform=transform)
    testset = load_dataset(settings, train=False, transform=test_transform)
    return (profile_subset(trainset, settings.profile.train_size),
            profile_subset(testset, settings.profile.test_size))


def make_loaders(train_subset, test_subset, batch_size: int, num_workers: int = 0, seed: int = 0):
    """A shuffled training loader over ``train_subset`` and an in-order test loader over ``test_subset``.

    Any datasets work (the whole ``trainset`` and ``testset`` too). ``seed`` seeds the shuffling, so
    the order is the same on every run. ``num_workers=0`` loads batches in the notebook's own
    process: in notebooks this is the safe choice on every operating system (notebook 02 explains why).
    """
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(train_subset, batch_size=batch_size, shuffle=True,
                              num_workers=num_workers, generator=generator)
    test_loader = DataLoader(test_subset, batch_size=batch_size, shuffle=False,
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
        problem = stand_in_problem(folder)
        if problem:
            return False, problem
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

def as_tensors(dataset, mean=TUTORIAL_MEAN, std=TUTORIAL_STD, device="cpu",
               memory_format=torch.contiguous_format, chunk: int = 1024):
    """All images of a CIFAR-10-style data set as one normalised float tensor (N, 3, 32, 32).

    Does at once, for every image, what ``ToTensor`` + ``Normalize`` do one PIL image at a time,
    with the same arithmetic in the same order (divide by 255, subtract the mean, divide by the
    std), so the values are the same bit for bit. Works on a ``CIFAR10`` (or the stand-in) and on
    a ``Subset`` of one. It reads the raw pixels: the data set's own ``transform``
    (augmentation included) is not applied.

    The ``uint8`` pixels (a quarter of the size) go to ``device`` first; the float result is
    allocated once, in ``memory_format``, and filled ``chunk`` images at a time, each chunk
    converted and normalised in place while it is still in the CPU's cache: no full-size
    temporary copies.
    """
    base, indices = dataset, None
    if isinstance(dataset, Subset):
        base, indices = dataset.dataset, torch.as_tensor(dataset.indices, dtype=torch.long)
    pixels = torch.from_numpy(base.data).permute(0, 3, 1, 2)  # uint8 (N, 32, 32, 3) -> (N, 3, 32, 32)
    labels = torch.as_tensor(base.targets, dtype=torch.long)
    if indices is not None:
        pixels, labels = pixels[indices], labels[indices]
    pixels = pixels.to(device)
    images = torch.empty(pixels.shape, dtype=torch.float32, device=pixels.device,
                         memory_format=memory_format)         # the only full-size float tensor
    mean = torch.as_tensor(mean, dtype=torch.float32, device=images.device).view(1, 3, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32, device=images.device).view(1, 3, 1, 1)
    for start in range(0, len(images), chunk):
        part = images[start:start + chunk]                    # a view: writing it fills `images`
        torch.div(pixels[start:start + chunk], 255, out=part)  # ToTensor: uint8 -> float, 0..1
        part.sub_(mean).div_(std)                             # Normalize, in place
    return images, labels.to(device)


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
            # index_select, not images[index]: the same rows, but advanced indexing on a busy
            # machine can wait for a second thread on every batch (measured 20x slower)
            yield self.images.index_select(0, index), self.labels.index_select(0, index)
