"""The run settings, read from ``LAB_*`` environment variables and checked.

Every notebook starts with a settings cell::

    from labkit.settings import load_settings
    settings = load_settings()
    print(settings.summary())

Four variables steer a run (see the README's table):

``LAB_DATASET``  ``cifar10`` (the real data) or ``synthetic`` (the offline stand-in)
``LAB_PROFILE``  ``full`` (the tutorial's sizes), ``quick`` (live demo) or ``smoke`` (CI)
``LAB_DEVICE``   ``auto``, ``cpu`` or ``cuda``
``LAB_DATA_DIR`` the folder that holds the datasets (default: ``data/`` at the repo root;
               a relative path is taken from the repo root)

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


@dataclass(frozen=True)
class Profile:
    """How big a run is: how many images, how many epochs, which batch size and learning rate."""

    name: str
    train_size: int | None  # None means the whole training set
    test_size: int | None   # None means the whole test set
    batch_size: int
    epochs: int
    lr: float
    description: str


PROFILES = {
    "full": Profile("full", None, None, batch_size=4, epochs=2, lr=0.001,
                    description="the tutorial's own sizes: every image, batch 4, 2 epochs"),
    "quick": Profile("quick", 10_000, 2_000, batch_size=16, epochs=3, lr=0.02,
                     description="a live demo: about a minute per notebook on a laptop CPU"),
    "smoke": Profile("smoke", 4_000, 1_000, batch_size=16, epochs=3, lr=0.02,
                     description="CI: the smallest run that still shows learning"),
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

    @property
    def checkpoint_dir(self) -> Path:
        """Where notebooks save checkpoints: inside LAB_DATA_DIR, like everything the workshop writes."""
        return self.data_dir / "checkpoints"

    def summary(self) -> str:
        """One line that says how this run is set up."""
        p = self.profile
        train = "all" if p.train_size is None else f"{p.train_size:,}"
        test = "all" if p.test_size is None else f"{p.test_size:,}"
        return (f"LAB_DATASET={self.dataset}  LAB_PROFILE={p.name} "
                f"(train {train}, test {test}, batch {p.batch_size}, {p.epochs} epochs)  "
                f"LAB_DEVICE={self.device}  LAB_DATA_DIR={self.data_dir}")


def _choice(environ, name: str) -> str:
    value = environ.get(name, "").strip().lower() or DEFAULTS[name]
    if value not in ALLOWED[name]:
        allowed = ", ".join(ALLOWED[name])
        raise LabError(f"{name}={environ.get(name)!r} is not a known value. "
                       f"Allowed values: {allowed}. Unset it to use the default ({DEFAULTS[name]}).")
    return value


def load_settings(environ=None) -> Settings:
    """Read and check the ``LAB_*`` variables (from ``os.environ`` unless a dict is given)."""
    environ = os.environ if environ is None else environ
    dataset = _choice(environ, "LAB_DATASET")
    profile = PROFILES[_choice(environ, "LAB_PROFILE")]
    device = _choice(environ, "LAB_DEVICE")

    raw_dir = environ.get("LAB_DATA_DIR", "").strip()
    data_dir = Path(raw_dir).expanduser() if raw_dir else REPO_ROOT / "data"
    if not data_dir.is_absolute():  # relative to the repo root, wherever the code runs from
        data_dir = REPO_ROOT / data_dir
    data_dir = data_dir.resolve()
    if data_dir.exists() and not data_dir.is_dir():
        raise LabError(f"LAB_DATA_DIR={data_dir} exists but is a file, not a folder. "
                       f"Point LAB_DATA_DIR at a folder (or unset it to use {REPO_ROOT / 'data'}).")
    return Settings(dataset=dataset, profile=profile, device=device, data_dir=data_dir)
