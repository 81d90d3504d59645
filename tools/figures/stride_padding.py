"""Draw images/stride_padding.png: where a 3-wide kernel lands with stride 1, 2, 3 and with padding 1.

    python tools/figures/stride_padding.py

One row of pixels per case, as notebook 03 section 2 prints them for whole images (the same happens
along the height). Each position of the kernel is a coloured bar above the row; the output cell it
fills has the same colour. With stride 3 the last pixel is left over (no position fits); with
padding 1 a zero is added at each end and the output keeps the input's width.
Deterministic: the same script always writes the same bytes.
"""

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, Rectangle
from _common import ROOT, out_folder, save, use_fonts  # noqa: F401  (tools/figures/_common.py)

NAME = "stride_padding.png"
KERNEL = 3
PALETTE = ["#1f77b4", "#e6730f", "#2ca02c", "#8e44ad", "#c0392b"]

# (title, input width, padding, stride): the rows of the picture, top to bottom.
CASES = [("stride=1, padding=0", 7, 0, 1),
         ("stride=2, padding=0", 7, 0, 2),
         ("stride=3, padding=0", 7, 0, 3),
         ("stride=1, padding=1", 5, 1, 1)]


def positions(width: int, padding: int, stride: int) -> list[int]:
    """Left edges of the kernel in the padded row: every stride-th place where it fits."""
    return list(range(0, width + 2 * padding - KERNEL + 1, stride))


def cell(ax, x, y, text, face, edge="#555555", colour="black", hatch=None):
    ax.add_patch(Rectangle((x, y), 1, 1, facecolor=face, edgecolor=edge, linewidth=1.2, hatch=hatch))
    ax.text(x + 0.5, y + 0.5, text, ha="center", va="center", fontsize=10, color=colour)


def draw_case(ax, top: float, title: str, width: int, padding: int, stride: int) -> float:
    """Draw one case with its top at `top`; return the height it used."""
    starts = positions(width, padding, stride)
    bar_h, gap = 0.22, 0.08
    bars_h = len(starts) * (bar_h + gap)
    ax.text(0, top, title, ha="left", va="top", fontsize=11, family="monospace")
    row_y = top - 0.45 - bars_h - 1.0
    for i, left in enumerate(starts):             # the kernel's positions, one bar each
        y = row_y + 1.0 + gap + (len(starts) - 1 - i) * (bar_h + gap)
        ax.add_patch(Rectangle((left + 0.08, y), KERNEL - 0.16, bar_h, facecolor=PALETTE[i % len(PALETTE)],
                               edgecolor="none"))
    used = set(range(starts[-1] + KERNEL))
    for j in range(width + 2 * padding):          # the (padded) input row
        is_pad = j < padding or j >= width + padding
        if is_pad:
            cell(ax, j, row_y, "", "#eeeeee", edge="#888888", hatch="///")
        elif j in used:
            cell(ax, j, row_y, str(j - padding), "#f7f7f7")
        else:
            cell(ax, j, row_y, str(j - padding), "white", edge="#bbbbbb", colour="#bbbbbb")
    if padding:
        ax.text(padding / 2, row_y - 0.3, "zero", ha="center", va="top", fontsize=8, color="#888888")
        ax.text(width + 1.5 * padding, row_y - 0.3, "zero", ha="center", va="top", fontsize=8, color="#888888")
    if len(used) < width + 2 * padding:
        ax.text(width + 2 * padding - 0.5, row_y - 0.3, "left over", ha="center", va="top", fontsize=8,
                color="#888888")
    ax.text(-0.2, row_y + 0.5, "input", ha="right", va="center", fontsize=9, color="#444444")
    x_arrow = 7.9
    ax.add_patch(FancyArrowPatch((x_arrow - 0.3, row_y + 0.5), (x_arrow + 0.9, row_y + 0.5), arrowstyle="-|>",
                                 mutation_scale=16, linewidth=1.5, color="#333333"))
    x_out = x_arrow + 1.4
    for i in range(len(starts)):                  # the output row, one cell per position
        colour = PALETTE[i % len(PALETTE)]
        ax.add_patch(Rectangle((x_out + i, row_y), 1, 1, facecolor=colour, edgecolor="white", linewidth=1.5,
                               alpha=0.85))
    out = len(starts)
    formula = f"⌊({width} − {KERNEL} + 2·{padding}) / {stride}⌋ + 1"
    ax.text(x_out, row_y - 0.3, f"output: {out} wide = {formula}", ha="left", va="top", fontsize=9,
            color="#444444")
    return top - row_y + 0.75


def main() -> None:
    use_fonts()
    heights = []
    for _, width, padding, stride in CASES:
        heights.append(0.45 + len(positions(width, padding, stride)) * 0.30 + 1.0 + 0.75)
    total = sum(heights) + 0.2
    left, right = -1.1, 15.6
    fig, ax = plt.subplots(figsize=(0.52 * (right - left), 0.52 * (total + 0.4)), dpi=100)
    ax.set_xlim(left, right)
    ax.set_ylim(-total + 0.1, 0.3)
    ax.set_aspect("equal")
    ax.axis("off")
    top = 0.0
    for title, width, padding, stride in CASES:
        top -= draw_case(ax, top, title, width, padding, stride)
    fig.tight_layout(pad=0.2)
    save(fig, out_folder() / NAME)


if __name__ == "__main__":
    main()
