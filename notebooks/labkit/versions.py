"""The version floor: the oldest torch and torchvision this workshop supports (infrastructure).

Notebook 00 calls :func:`check_versions` in its first code cell; it is setup, not a lesson, so it
lives here rather than in the notebook. The floor is the one ``requirements.txt`` states and
``make test-oldest`` proves (a test checks that the two agree).

    major_minor("2.5.1+cpu") == (2, 5)
    too_old({"torch": "2.4.1"}) == ["torch 2.4.1 (needs 2.5 or newer)"]
    check_versions()          "Versions OK: ..." or a RuntimeError that says how to reinstall
"""

from __future__ import annotations

__all__ = ["FLOORS", "major_minor", "too_old", "check_versions"]

FLOORS = {"torch": (2, 5), "torchvision": (0, 20)}


def major_minor(version: str) -> tuple[int, int]:
    """The first two numbers of a version string: ``"2.14.1+cu130"`` -> ``(2, 14)``.

    The local part after ``+`` (``cpu``, ``cu130``) and any later numbers are ignored; so is a
    pre-release suffix glued to the second number (``"2.6.0a0"`` -> ``(2, 6)``).
    """
    parts = version.split("+")[0].split(".")
    numbers = []
    for part in parts[:2]:
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            raise ValueError(f"cannot read a version number from {version!r}")
        numbers.append(int(digits))
    if len(numbers) < 2:
        numbers.append(0)
    return numbers[0], numbers[1]


def installed_versions() -> dict[str, str]:
    import torch
    import torchvision

    return {"torch": torch.__version__, "torchvision": torchvision.__version__}


def too_old(versions: dict[str, str] | None = None) -> list[str]:
    """One phrase per package below its floor, e.g. ``"torch 2.4.1 (needs 2.5 or newer)"``."""
    versions = installed_versions() if versions is None else versions
    return [f"{name} {version} (needs {FLOORS[name][0]}.{FLOORS[name][1]} or newer)"
            for name, version in versions.items() if major_minor(version) < FLOORS[name]]


def check_versions(versions: dict[str, str] | None = None) -> str:
    """A one-line "Versions OK" when torch and torchvision reach the floor; else a RuntimeError."""
    old = too_old(versions)
    if old:
        raise RuntimeError("Too old for this workshop: " + ", ".join(old) + ". Reinstall the environment "
                           "(`make lab`, or `pip install -r requirements.txt -c constraints.txt -e .` in the "
                           "workshop's .venv) and restart the kernel.")
    return "Versions OK: " + " and ".join(f"{name} >= {a}.{b}" for name, (a, b) in FLOORS.items()) + "."
