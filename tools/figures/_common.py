"""What every figure script shares: where figures go, the font, and how they are saved.

    python tools/figures/<name>.py [OUTPUT_FOLDER]     (OUTPUT_FOLDER defaults to images/)

Saved without the "Software" metadata, so that the same script always writes the same bytes
(a test compares them with the committed images/).
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen needed
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def out_folder() -> Path:
    """The folder named on the command line, or the repository's images/; created if needed."""
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "images"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def use_fonts() -> None:
    plt.rcParams["font.family"] = "DejaVu Sans"  # ships with matplotlib: same glyphs everywhere


def save(fig, path: Path, **kwargs) -> Path:
    """Save ``fig`` to ``path`` (PNG, 100 dpi unless told otherwise), close it, say so."""
    fig.savefig(path, **{"dpi": 100, "metadata": {"Software": None}, **kwargs})
    plt.close(fig)
    print(f"wrote {path}")
    return path
