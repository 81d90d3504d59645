"""Draw images/broadcasting.png: a (3, 1) column plus a (4,) row, broadcast to a (3, 4) table.

    python tools/figures/broadcasting.py

Left: the column [0, 10, 20], shape (3, 1), stretched along its size-1 dimension to 4 columns.
Middle: the row [1, 2, 3, 4], shape (4,), read as (1, 4) and stretched to 3 rows.
Right: their sum, shape (3, 4). Solid squares are numbers the tensors store; faded, dashed ones
are the stretched copies, which PyTorch never writes into memory.
The numbers are those of notebook 01, section 5, so the picture and the cell agree.
Matplotlib only, no randomness: the same PNG every run.
"""


import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle
from _common import ROOT, out_folder, save, use_fonts  # noqa: F401  (tools/figures/_common.py)

NAME = "broadcasting.png"

COLUMN = [0, 10, 20]     # shape (3, 1)
ROW = [1, 2, 3, 4]       # shape (4,)
ROWS, COLS = len(COLUMN), len(ROW)

EDGE = "#333333"
FADED_EDGE = "#9a9a9a"
FADED_TEXT = "#8a8a8a"
COLUMN_FILL, COLUMN_FADED = "#9ec5e8", "#e3eef8"
ROW_FILL, ROW_FADED = "#f6c28b", "#fcebd9"
RESULT_FILL = "#b9e0b4"


def cell(ax, x, y, value, fill, stored=True):
    """One square with its number; a stored one is solid, a stretched copy faded and dashed."""
    ax.add_patch(Rectangle((x, y), 1, 1, facecolor=fill, edgecolor=EDGE if stored else FADED_EDGE,
                           lw=1.4 if stored else 1.0, linestyle="-" if stored else (0, (3, 2))))
    ax.text(x + 0.5, y + 0.5, str(value), ha="center", va="center", fontsize=13,
            color="black" if stored else FADED_TEXT, fontweight="bold" if stored else "normal")


def grid(ax, x0, y_top, value_of, fill_of, stored_of):
    for i in range(ROWS):
        for j in range(COLS):
            cell(ax, x0 + j, y_top - (i + 1), value_of(i, j), fill_of(i, j), stored_of(i, j))


def caption(ax, x, y, title, shape):
    ax.text(x, y, title, ha="center", va="top", fontsize=12, fontweight="bold")
    ax.text(x, y - 0.5, shape, ha="center", va="top", fontsize=11, family="monospace")


def main():
    use_fonts()
    fig, ax = plt.subplots(figsize=(10, 3.3), dpi=100)
    ax.set_xlim(0, 17.6)
    ax.set_ylim(-1.5, 4.3)
    ax.set_aspect("equal")
    ax.axis("off")
    top = 3.4

    # The column: stored in column 0, stretched over columns 1..3.
    grid(ax, 0.4, top, lambda i, j: COLUMN[i],
         lambda i, j: COLUMN_FILL if j == 0 else COLUMN_FADED, lambda i, j: j == 0)
    ax.annotate("", xy=(4.4, top + 0.35), xytext=(1.4, top + 0.35),
                arrowprops={"arrowstyle": "-|>", "color": "#666666", "lw": 1.2})
    ax.text(2.9, top + 0.62, "size 1 stretched to 4", ha="center", fontsize=9.5, color="#444444")
    caption(ax, 2.4, top - ROWS - 0.25, "column", "(3, 1) → (3, 4)")

    ax.text(5.2, top - ROWS / 2, "+", ha="center", va="center", fontsize=24)

    # The row: stored in row 0, stretched down over rows 1..2.
    grid(ax, 6.0, top, lambda i, j: ROW[j],
         lambda i, j: ROW_FILL if i == 0 else ROW_FADED, lambda i, j: i == 0)
    ax.annotate("", xy=(10.35, top - ROWS), xytext=(10.35, top - 1),
                arrowprops={"arrowstyle": "-|>", "color": "#666666", "lw": 1.2})
    ax.text(10.6, top - 2.0, "missing,\nthen 1,\nstretched\nto 3", ha="left", va="center",
            fontsize=9.5, color="#444444")
    caption(ax, 8.0, top - ROWS - 0.25, "row", "(4,) → (1, 4) → (3, 4)")

    ax.text(12.65, top - ROWS / 2, "=", ha="center", va="center", fontsize=24)

    # The result: every element stored.
    grid(ax, 13.3, top, lambda i, j: COLUMN[i] + ROW[j], lambda i, j: RESULT_FILL, lambda i, j: True)
    caption(ax, 15.3, top - ROWS - 0.25, "column + row", "(3, 4)")

    ax.text(8.8, -1.2, "solid: numbers the tensor stores    faded, dashed: stretched copies "
            "(never written to memory)", ha="center", va="center", fontsize=9.5, color="#444444")

    fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.01)
    save(fig, out_folder() / NAME)


if __name__ == "__main__":
    main()
