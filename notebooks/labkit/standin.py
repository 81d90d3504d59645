"""The offline stand-in for CIFAR-10: generated here, in CIFAR-10's own format, and checked.

This module is the workshop's infrastructure, not a lesson: no notebook writes it out. It lets
every notebook run without a network (CI, a training room on poor Wi-Fi). Notebook 02 explains
what the stand-in is and how it is read.

``make_synthetic_cifar10`` draws ten classes of simple shapes and textures (``CLASSES``) as 32x32
colour images and writes them exactly as CIFAR-10 is stored: pickled ``data_batch_1`` ..
``data_batch_5``, ``test_batch`` and ``batches.meta``, in their own folder, with a
``manifest.json`` that records the generator's version, seed, sizes, classes and each file's MD5.
``prepare_offline`` writes it atomically, world-readable (so an instructor can share one copy),
and repairs a copy that is damaged or was made by another version, seed or size.
``SyntheticCIFAR10`` reads it with torchvision's own CIFAR-10 code: it changes only the folder
name and the checksum lists, the way torchvision's ``CIFAR100`` does.

The MD5s in the manifest catch accidents (a truncated or altered file), not tampering: the same
program writes the data and its checksums. A folder shared by a class must therefore be
read-only for the learners (see the instructor guide).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torchvision
from torchvision.datasets.utils import calculate_md5, check_integrity

from .settings import LabError

SYNTHETIC_FOLDER = "cifar-10-synthetic-batches-py"
MANIFEST = "manifest.json"
GENERATOR_VERSION = 1  # raise it whenever the generator draws different images
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
        "generator": "labkit.standin.make_synthetic_cifar10",
        "version": GENERATOR_VERSION, "seed": seed, "train": n_train, "test": n_test,
        "classes": list(CLASSES),
        "md5": {name: calculate_md5(str(folder / name)) for name in files},
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


# --------------------------------------------------------------------------------------------
# Checking a stand-in against its manifest, and against what was asked for.
# --------------------------------------------------------------------------------------------

ALL_FILES = TRAIN_FILES + TEST_FILES + [META_FILE]
_FIX = "Run `make data` (or `python -m labkit prepare-offline`): it regenerates it in about 10 s."


def read_manifest(folder) -> dict:
    """The stand-in's manifest, with an MD5 for every one of its files, or a clear LabError."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not folder.exists():
        raise LabError(f"The offline stand-in is not in {folder}: it has not been generated yet. "
                       "Run `make data` (or `python -m labkit prepare-offline`).")
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise LabError(f"The offline stand-in in {folder} has no {MANIFEST} (its generation did not "
                       f"finish, or the file was deleted). {_FIX}") from None
    except PermissionError:
        raise LabError(f"Cannot read {path}: it is not readable for you. Ask whoever generated the "
                       "shared data folder to make it readable (folders 0755, files 0644), or set "
                       "LAB_DATA_DIR to a folder of your own.") from None
    except (OSError, ValueError) as e:
        raise LabError(f"The offline stand-in's {path} is not readable ({e}). {_FIX}") from None
    md5 = manifest.get("md5") if isinstance(manifest, dict) else None
    missing = [name for name in ALL_FILES if not isinstance(md5, dict) or not md5.get(name)]
    if missing:
        raise LabError(f"The offline stand-in's {path} gives no checksum for {', '.join(missing)}, "
                       f"so those files cannot be verified. {_FIX}")
    return manifest


def stand_in_mismatch(manifest: dict, n_train: int, n_test: int, seed: int) -> str | None:
    """What differs between a stand-in's manifest and the one asked for (None if nothing)."""
    wanted = {"version": GENERATOR_VERSION, "seed": seed, "train": n_train, "test": n_test,
              "classes": list(CLASSES)}
    names = {"version": "generator version", "seed": "seed", "train": "training images",
             "test": "test images", "classes": "classes"}
    diffs = [f"{names[key]} {manifest.get(key)!r} instead of {value!r}"
             for key, value in wanted.items() if manifest.get(key) != value]
    return "; ".join(diffs) or None


def damaged_stand_in_files(folder, manifest: dict) -> list[str]:
    """The stand-in's files that are missing or fail the MD5 the manifest gives."""
    folder = Path(folder)
    return [name for name in ALL_FILES
            if not check_integrity(str(folder / name), manifest["md5"][name])]


def damaged_message(folder, bad) -> str:
    return (f"The offline stand-in in {folder} is damaged: {', '.join(bad)} failed its checksum "
            f"(missing, truncated or altered). {_FIX}")


def stand_in_problem(folder, n_train: int = 50_000, n_test: int = 10_000, seed: int = 0,
                     check_files: bool = True) -> str | None:
    """Why the stand-in in ``folder`` cannot be used as asked, or None when it can.

    ``check_files=False`` reads only the manifest (torchvision checks the MD5s when it loads).
    """
    try:
        manifest = read_manifest(folder)
    except LabError as e:
        return str(e)
    mismatch = stand_in_mismatch(manifest, n_train, n_test, seed)
    if mismatch:
        return (f"The offline stand-in in {folder} is not the one this workshop uses: {mismatch} "
                f"(made by another version of the workshop, or with other settings). {_FIX}")
    bad = damaged_stand_in_files(folder, manifest) if check_files else []
    return damaged_message(folder, bad) if bad else None


# --------------------------------------------------------------------------------------------
# Writing it: atomically, world-readable, repairing what is there.
# --------------------------------------------------------------------------------------------

def _temp_prefix() -> str:
    return f".{SYNTHETIC_FOLDER}-tmp-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # someone else's process: alive
        return True
    return True


def remove_abandoned_temp_folders(root) -> list[Path]:
    """Delete what a generation killed outright (SIGKILL, power cut) left behind.

    A generation writes into ``.<folder>-tmp-<pid>-<random>``; a folder whose process is gone is
    abandoned. Folders of generations still running (another learner, another notebook) stay.
    """
    removed = []
    for tmp in Path(root).glob(_temp_prefix() + "*"):
        try:
            pid = int(tmp.name[len(_temp_prefix()):].split("-", 1)[0])
        except ValueError:
            continue
        if tmp.is_dir() and not _pid_alive(pid):
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


def _make_world_readable(folder: Path) -> None:
    """Folders 0755 and files 0644, whatever the umask: a shared copy must be readable by all."""
    os.chmod(folder, 0o755)
    for path in folder.iterdir():
        os.chmod(path, 0o644)


def prepare_offline(root, force: bool = False, seed: int = 0, n_train: int = 50_000,
                    n_test: int = 10_000, quiet: bool = False) -> Path:
    """Make sure a verified stand-in of this version, seed and size is under ``root``.

    A missing one is generated; one that is damaged, incomplete or made with other settings is
    named and generated again (the data are deterministic, so nothing is lost). ``force``
    regenerates in any case. The files are written into a temporary folder first, then put in
    place by renaming, so an interrupted run never leaves a half-written data set in use.
    """
    root = Path(root)
    folder = root / SYNTHETIC_FOLDER
    if root.exists():
        remove_abandoned_temp_folders(root)
    if folder.exists() and not force:
        problem = stand_in_problem(folder, n_train=n_train, n_test=n_test, seed=seed)
        if problem is None:
            return folder
        if not quiet:
            print(problem.replace(_FIX, "Generating it again.").strip(), flush=True)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{_temp_prefix()}{os.getpid()}-", dir=root))
    except OSError as e:
        raise LabError(f"Cannot write the offline stand-in into {root} ({e.strerror}). "
                       "Set LAB_DATA_DIR to a folder you can write to, or ask whoever owns "
                       f"{root} to run `make data` there.") from None
    old = None
    try:
        if not quiet:
            print(f"Generating the offline stand-in ({n_train:,} + {n_test:,} images) in {folder} ...",
                  flush=True)
        try:
            make_synthetic_cifar10(tmp, n_train=n_train, n_test=n_test, seed=seed)
        except OSError as e:   # a full disk, a quota
            raise LabError(f"Cannot write the offline stand-in into {root} ({e.strerror}). "
                           "Free some space (it needs about 180 MB) or set LAB_DATA_DIR "
                           "elsewhere.") from None
        _make_world_readable(tmp)
        if folder.exists():   # move the old copy aside, then put the new one in its place
            old = Path(tempfile.mkdtemp(prefix=f"{_temp_prefix()}{os.getpid()}-old-", dir=root))
            os.rename(folder, old / SYNTHETIC_FOLDER)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not folder.exists():   # another process did not win the race: a real error
                raise
    finally:
        for leftover in (tmp, old):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)
    return folder


# --------------------------------------------------------------------------------------------
# Reading it with torchvision's code.
# --------------------------------------------------------------------------------------------

class SyntheticCIFAR10(torchvision.datasets.CIFAR10):
    """The offline stand-in, read by torchvision's CIFAR-10 code.

    Only the folder and the checksums differ from ``CIFAR10``; the checksums come from the
    manifest written next to the files, which must list every file. ``download=True``
    generates the stand-in if it is missing or unusable.
    """

    base_folder = SYNTHETIC_FOLDER

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False):
        folder = Path(root) / self.base_folder
        if download:
            prepare_offline(root)
        md5 = read_manifest(folder)["md5"]
        self.train_list = [[name, md5[name]] for name in TRAIN_FILES]
        self.test_list = [[name, md5[name]] for name in TEST_FILES]
        self.meta = {"filename": META_FILE, "key": "label_names", "md5": md5[META_FILE]}
        super().__init__(root, train=train, transform=transform,
                         target_transform=target_transform, download=False)
