"""Draw images/tensor.png: tensors of 0 to 4 dimensions, each with its shape.

    python tools/figures/tensor.py

Top row: a scalar (0-D), a vector (1-D) and a matrix (2-D), with their numbers.
Bottom row: an RGB image as a 3-D tensor (3 channels of a small 4x4 grid, stacked), with an
arrow for each of its dimensions (dim 0: C, dim 1: H, the rows, dim 2: W, the columns), and a
batch of two such images as a 4-D tensor (N, C, H, W).
Matplotlib only, no randomness: the same PNG every run. Used by notebooks/01_tensors.ipynb.
"""


import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, Rectangle
from _common import ROOT, out_folder, save, use_fonts  # noqa: F401  (tools/figures/_common.py)

NAME = "tensor.png"

CELL = 1.0          # side of one element's square, in data units
EDGE = "#333333"
NUMBER_FILL = "#e8eef7"
TITLE_SIZE = 13
SHAPE_SIZE = 12
NUMBER_SIZE = 12

# One channel colour per channel: R, G, B (index 0, 1, 2 along the C dimension).
CHANNELS = (("R", (0.86, 0.18, 0.18)), ("G", (0.18, 0.62, 0.25)), ("B", (0.20, 0.35, 0.85)))

# A fixed 4x4 picture, intensities 0..1 per channel, so the sheets are not flat colours.
PATTERNS = (
    ((0.9, 0.7, 0.4, 0.2), (0.7, 0.9, 0.7, 0.4), (0.4, 0.7, 0.9, 0.7), (0.2, 0.4, 0.7, 0.9)),
    ((0.2, 0.4, 0.6, 0.8), (0.3, 0.5, 0.7, 0.9), (0.4, 0.6, 0.8, 1.0), (0.5, 0.7, 0.9, 1.0)),
    ((1.0, 0.8, 0.8, 1.0), (0.8, 0.3, 0.3, 0.8), (0.8, 0.3, 0.3, 0.8), (1.0, 0.8, 0.8, 1.0)),
)


def tint(colour, amount):
    """Mix white with ``colour``: amount 0 is white, 1 is the full colour."""
    return tuple(1 - amount * (1 - c) for c in colour)


def number_grid(ax, x0, y_top, values):
    """Draw a grid of numbered squares; ``values`` is a list of rows. Returns (width, height)."""
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            x, y = x0 + j * CELL, y_top - (i + 1) * CELL
            ax.add_patch(Rectangle((x, y), CELL, CELL, facecolor=NUMBER_FILL, edgecolor=EDGE, lw=1.2))
            ax.text(x + CELL / 2, y + CELL / 2, str(v), ha="center", va="center", fontsize=NUMBER_SIZE)
    return len(values[0]) * CELL, len(values) * CELL


def channel_stack(ax, x0, y_top, cell=0.62, shift=0.55, labels=True):
    """Draw 3 channel sheets (4x4 each), B at the back and R in front. Returns (width, height)."""
    n = len(PATTERNS[0])
    for c in reversed(range(3)):                      # draw the back sheet first
        name, colour = CHANNELS[c]
        dx, dy = c * shift, c * shift                 # each later channel sits up and to the right
        for i in range(n):
            for j in range(n):
                x, y = x0 + dx + j * cell, y_top - 2 * shift + dy - (i + 1) * cell
                ax.add_patch(Rectangle((x, y), cell, cell, edgecolor=EDGE, lw=0.8,
                                       facecolor=tint(colour, PATTERNS[c][i][j])))
        if labels:  # a staircase of labels, left of each sheet's visible top row
            ax.text(x0 + dx - 0.12, y_top - 2 * shift + dy - 0.5 * min(cell, shift),
                    f"c={c}: {name}", ha="right", va="center", fontsize=10, color=colour,
                    fontweight="bold")
    return n * cell + 2 * shift, n * cell + 2 * shift


def caption(ax, x, y, title, shape):
    ax.text(x, y, title, ha="center", va="top", fontsize=TITLE_SIZE, fontweight="bold")
    ax.text(x, y - 0.62, shape, ha="center", va="top", fontsize=SHAPE_SIZE, family="monospace")


def arrow(ax, start, end, text, text_xy, rotation=0):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, lw=1.2, color="#666666"))
    ax.text(*text_xy, text, ha="center", va="center", fontsize=9.5, color="#444444", rotation=rotation)


def main():
    fig, ax = plt.subplots(figsize=(10, 7.1), dpi=100)
    ax.set_xlim(0, 20)
    ax.set_ylim(-0.2, 14.0)
    ax.set_aspect("equal")
    ax.axis("off")

    # --- Top row: scalar, vector, matrix (numbers shown) ------------------------------------
    top = 12.9
    number_grid(ax, 1.0, top - 1.0, [[7]])
    caption(ax, 1.5, top - 2.6, "scalar", "0-D, shape ()")

    number_grid(ax, 4.0, top - 1.0, [[3, 1, 4, 1]])
    arrow(ax, (4.0, top - 0.35), (8.0, top - 0.35), "dim 0 (size 4)", (6.0, top - 0.05))
    caption(ax, 6.0, top - 2.6, "vector", "1-D, shape (4,)")

    number_grid(ax, 12.0, top, [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]])
    arrow(ax, (11.6, top), (11.6, top - 3.0), "dim 0: rows (3)", (11.2, top - 1.5), rotation=90)
    arrow(ax, (12.0, top + 0.35), (16.0, top + 0.35), "dim 1: columns (4)", (14.0, top + 0.7))
    caption(ax, 14.0, top - 3.3, "matrix", "2-D, shape (3, 4)")

    # --- Bottom row: an RGB image (3-D) and a batch of images (4-D) -------------------------
    bottom_top = 6.2
    x_image, cell, shift = 2.2, 0.62, 0.55          # channel_stack's defaults
    channel_stack(ax, x_image, bottom_top)
    front_top = bottom_top - 2 * shift              # the R sheet, in front
    front_bottom, front_right = front_top - 4 * cell, x_image + 4 * cell
    arrow(ax, (x_image - 0.3, front_top - 0.45), (x_image - 0.3, front_bottom), "dim 1: H (rows)",
          (x_image - 0.62, (front_top - 0.45 + front_bottom) / 2), rotation=90)
    arrow(ax, (x_image, front_bottom - 0.3), (front_right, front_bottom - 0.3), "dim 2: W (columns)",
          (x_image + 2 * cell, front_bottom - 0.62))
    arrow(ax, (front_right + 0.3, front_bottom - 0.05),
          (front_right + 2 * shift + 0.3, front_bottom + 2 * shift - 0.05),
          "dim 0: C (channels)", (front_right + 2 * shift + 1.05, front_bottom + 0.15))
    caption(ax, 3.3, bottom_top - 4.95, "3-D tensor: one RGB image",
            "shape (C, H, W) = (3, 4, 4)")

    x_batch = 9.6
    for n in range(2):
        x0 = x_batch + n * 5.0
        w, _ = channel_stack(ax, x0, bottom_top, labels=False)
        ax.text(x0 + w / 2, bottom_top + 0.35, f"image n={n}", ha="center", va="bottom", fontsize=10)
    arrow(ax, (x_batch, bottom_top + 1.1), (x_batch + 8.6, bottom_top + 1.1),
          "dim 0: the batch, N = 2 images", (x_batch + 4.3, bottom_top + 1.45))
    caption(ax, x_batch + 4.3, bottom_top - 4.95, "4-D tensor: a batch of images",
            "shape (N, C, H, W) = (2, 3, 4, 4)")

    # A thin rule between the rows.
    ax.plot([0.3, 19.7], [8.25, 8.25], color="#cccccc", lw=1)

    fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.01)
    save(fig, out_folder() / NAME)


if __name__ == "__main__":
    main()
