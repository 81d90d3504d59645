"""The run settings, read from ``LAB_*`` environment variables and checked.

Every notebook starts with a settings cell::

    from labkit.settings import load_settings
    settings = load_settings()
    print(settings.summary())

Five variables steer a run (see the README's table):

``LAB_DATASET``    ``cifar10`` (the real data) or ``synthetic`` (the offline stand-in)
``LAB_PROFILE``    ``full`` (the tutorial's sizes), ``quick`` (live demo) or ``smoke`` (CI)
``LAB_DEVICE``     ``auto``, ``cpu`` or ``cuda``
``LAB_DATA_DIR``   the folder that holds the datasets; it may be shared and read-only
                 (default: ``data/`` at the repo root)
``LAB_OUTPUT_DIR`` the folder a run writes to: checkpoints, run logs, tables, figures; one per
                 learner (default: ``outputs/`` at the repo root)

A relative path is taken from the repo root, wherever the code runs from.

An unknown value is an error that lists the allowed values; nothing is replaced silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# notebooks/labkit/settings.py -> the repository root is two folders up from labkit/.
REPO_ROOT = Path(__file__).resolve().parents[2]


class LabError(RuntimeError):
    """A problem a learner can fix. The message says what happened and what to do."""

    def _render_traceback_(self):
        # IPython (Jupyter) shows an exception through this method when it has one: the
        # message alone, in one line, instead of a traceback through labkit's code. The cell
        # still fails (Run All stops there, nbval sees the error); plain Python is unchanged.
        return [f"LabError: {self}"]


@dataclass(frozen=True)
class Profile:
    """How big a run is: how many images, how many epochs, which batch size and learning rate."""

    name: str
    train_size: int | None  # None means the whole training set
    test_size: int | None   # None means the whole test set
    batch_size: int
    epochs: int
    lr: float


PROFILES = {
    # the tutorial's own sizes: every image, batch 4, 2 epochs
    "full": Profile("full", None, None, batch_size=4, epochs=2, lr=0.001),
    # a live demo: a subset, so that each notebook runs in about a minute on a laptop CPU
    "quick": Profile("quick", 10_000, 2_000, batch_size=16, epochs=3, lr=0.02),
    # the tests: the smallest run that still shows learning
    "smoke": Profile("smoke", 4_000, 1_000, batch_size=16, epochs=3, lr=0.02),
}

ALLOWED = {
    "LAB_DATASET": ("cifar10", "synthetic"),
    "LAB_PROFILE": tuple(PROFILES),
    "LAB_DEVICE": ("auto", "cpu", "cuda"),
}

DEFAULTS = {"LAB_DATASET": "cifar10", "LAB_PROFILE": "full", "LAB_DEVICE": "auto"}


@dataclass(frozen=True)
class Settings:
    dataset: str
    profile: Profile
    device: str
    data_dir: Path
    output_dir: Path

    @property
    def checkpoint_dir(self) -> Path:
        """Where notebooks save checkpoints: in this learner's LAB_OUTPUT_DIR, never with the data."""
        return self.output_dir / "checkpoints"

    @property
    def runs_dir(self) -> Path:
        """Where run logs go (for example the DDP runs of notebook 07), in LAB_OUTPUT_DIR."""
        return self.output_dir / "runs"

    def summary(self) -> str:
        """What this run reads and writes, one setting per line."""
        p = self.profile
        train = "all" if p.train_size is None else f"{p.train_size:,}"
        test = "all" if p.test_size is None else f"{p.test_size:,}"
        return "\n".join([
            f"LAB_DATASET={self.dataset}",
            f"LAB_PROFILE={p.name}  (train {train}, test {test}, batch {p.batch_size}, {p.epochs} epochs)",
            f"LAB_DEVICE={self.device}",
            f"LAB_DATA_DIR={self.data_dir}  (datasets; may be shared and read-only)",
            f"LAB_OUTPUT_DIR={self.output_dir}  (what this run writes)",
        ])


def _choice(environ, name: str) -> str:
    value = environ.get(name, "").strip().lower() or DEFAULTS[name]
    if value not in ALLOWED[name]:
        allowed = ", ".join(ALLOWED[name])
        raise LabError(f"{name}={environ.get(name)!r} is not a known value. "
                       f"Allowed values: {allowed}. Unset it to use the default ({DEFAULTS[name]}).")
    return value


def _folder(environ, name: str, default: str) -> Path:
    """A folder setting: ~ expanded, relative paths taken from the repo root, never a file."""
    raw = environ.get(name, "").strip()
    folder = Path(raw).expanduser() if raw else Path(default)
    if not folder.is_absolute():  # relative to the repo root, wherever the code runs from
        folder = _repo_root(name) / folder
    folder = folder.resolve()
    if folder.exists() and not folder.is_dir():
        raise LabError(f"{name}={folder} exists but is a file, not a folder. "
                       f"Point {name} at a folder (or unset it to use {REPO_ROOT / default}).")
    return folder


def _repo_root(name: str) -> Path:
    """The checkout, for a default or relative folder; a clear error if labkit runs from elsewhere
    (installed with `pip install .` instead of `-e .`, REPO_ROOT would be inside site-packages)."""
    if not (REPO_ROOT / "pyproject.toml").is_file():
        raise LabError(f"labkit is not running from the workshop's checkout ({REPO_ROOT} has no "
                       f"pyproject.toml), so {name} has no default folder. Install it from the "
                       "checkout with `python -m pip install -e .` (what `make` does), or set "
                       f"{name} to an absolute path.")
    return REPO_ROOT


def load_settings(environ=None) -> Settings:
    """Read and check the ``LAB_*`` variables (from ``os.environ`` unless a dict is given)."""
    environ = os.environ if environ is None else environ
    dataset = _choice(environ, "LAB_DATASET")
    profile = PROFILES[_choice(environ, "LAB_PROFILE")]
    device = _choice(environ, "LAB_DEVICE")
    data_dir = _folder(environ, "LAB_DATA_DIR", "data")
    output_dir = _folder(environ, "LAB_OUTPUT_DIR", "outputs")
    if output_dir == data_dir:
        raise LabError(f"LAB_OUTPUT_DIR and LAB_DATA_DIR are the same folder ({data_dir}). Keep them "
                       "apart: the data may be shared by a class, the outputs are yours. "
                       "Unset LAB_OUTPUT_DIR to use outputs/ in your checkout.")
    if output_dir.is_relative_to(data_dir) or data_dir.is_relative_to(output_dir):
        inner, outer = ((output_dir, data_dir) if output_dir.is_relative_to(data_dir)
                        else (data_dir, output_dir))
        raise LabError(f"LAB_OUTPUT_DIR and LAB_DATA_DIR are nested: {inner} is inside {outer}. "
                       "Keep them apart, side by side: the data may be shared by a class and is "
                       "regenerated as a whole (which would delete outputs inside it), the outputs "
                       "are yours. Unset LAB_OUTPUT_DIR to use outputs/ in your checkout.")
    return Settings(dataset=dataset, profile=profile, device=device, data_dir=data_dir,
                    output_dir=output_dir)

