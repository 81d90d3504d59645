"""Draw images/maxpool.png: 2x2 max pooling with stride 2 on a 4x4 grid of numbers.

    python tools/figures/maxpool.py

Left: the 4x4 input, its four 2x2 windows in four colours, the largest number of each window
circled in its colour. Right: the 2x2 result, one cell per window, in the window's colour.
The numbers are the ones notebook 03 pools in code, so the picture and the cell agree.
Deterministic: the same script always writes the same bytes.
"""


import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, Rectangle
from _common import ROOT, out_folder, save, use_fonts  # noqa: F401  (tools/figures/_common.py)

NAME = "maxpool.png"

# The input of notebook 03's pooling example (one channel, 4x4).
GRID = [[1, 3, 2, 1],
        [4, 6, 5, 0],
        [3, 1, 1, 8],
        [2, 7, 4, 3]]

# One (light, strong) colour pair per window: top-left, top-right, bottom-left, bottom-right.
COLOURS = [("#cfe2f3", "#1f77b4"), ("#fde2c8", "#e6730f"),
           ("#d5efd5", "#2ca02c"), ("#ead9f2", "#8e44ad")]


def window_of(row: int, col: int) -> int:
    """Which 2x2 window (0..3, row by row) the cell (row, col) belongs to."""
    return (row // 2) * 2 + (col // 2)


def draw_cell(ax, x, y, text, face, edge="white", bold=False, size=15, lw=1.5):
    ax.add_patch(Rectangle((x, y), 1, 1, facecolor=face, edgecolor=edge, linewidth=lw))
    ax.text(x + 0.5, y + 0.5, text, ha="center", va="center", fontsize=size,
            fontweight="bold" if bold else "normal", color="black")


def main() -> None:
    use_fonts()
    fig, ax = plt.subplots(figsize=(7.2, 3.6), dpi=100)
    ax.set_xlim(-0.3, 9.7)
    ax.set_ylim(-0.9, 4.9)
    ax.set_aspect("equal")
    ax.axis("off")

    # The 4x4 input. Row 0 is drawn at the top.
    maxima = {}
    for w in range(4):
        r0, c0 = (w // 2) * 2, (w % 2) * 2
        cells = [(r0 + i, c0 + j) for i in range(2) for j in range(2)]
        maxima[w] = max(cells, key=lambda rc: GRID[rc[0]][rc[1]])
    for r in range(4):
        for c in range(4):
            w = window_of(r, c)
            light, strong = COLOURS[w]
            is_max = maxima[w] == (r, c)
            draw_cell(ax, c, 3 - r, str(GRID[r][c]), light, bold=is_max)
            if is_max:
                ax.add_patch(plt.Circle((c + 0.5, 3 - r + 0.5), 0.36, fill=False,
                                        edgecolor=strong, linewidth=2.5))
    # A strong outline around each window.
    for w in range(4):
        r0, c0 = (w // 2) * 2, (w % 2) * 2
        ax.add_patch(Rectangle((c0 + 0.04, 3 - r0 - 1 + 0.04), 1.92, 1.92, fill=False,
                               edgecolor=COLOURS[w][1], linewidth=2.5))
    ax.text(2, 4.35, "input: 4 × 4", ha="center", fontsize=12)
    ax.text(2, -0.55, "four 2 × 2 windows, stride 2", ha="center", fontsize=10, color="#444444")

    # The arrow.
    ax.add_patch(FancyArrowPatch((4.4, 2), (6.6, 2), arrowstyle="-|>", mutation_scale=22,
                                 linewidth=2, color="#333333"))
    ax.text(5.5, 2.35, "MaxPool2d(2, 2)", ha="center", fontsize=10, family="monospace")
    ax.text(5.5, 1.45, "keep the largest\nnumber of each\nwindow", ha="center", va="top",
            fontsize=9, color="#444444")

    # The 2x2 result, one cell per window, placed like the windows.
    x0, y0 = 7.2, 1.0
    for w in range(4):
        r, c = w // 2, w % 2
        light, strong = COLOURS[w]
        mr, mc = maxima[w]
        draw_cell(ax, x0 + c, y0 + 1 - r, str(GRID[mr][mc]), light, edge=strong, bold=True, lw=2.5)
    ax.text(x0 + 1, 3.35, "output: 2 × 2", ha="center", fontsize=12)

    fig.tight_layout(pad=0.2)
    save(fig, out_folder() / NAME)


if __name__ == "__main__":
    main()
