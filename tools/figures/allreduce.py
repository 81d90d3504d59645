"""Draw images/allreduce.png: data parallelism and the gradient all-reduce, with four processes.

    python tools/figures/allreduce.py

Four columns, one per process (one GPU each). From top to bottom: each process takes its own
share of the batch, runs the same model (same weights) forward and backward, and gets its own
gradient (two made-up numbers per process). The all-reduce adds the four gradients and divides
by four; every process receives the same average and takes the same optimizer step, so the
four copies of the model stay identical. Used by notebooks/07_scaling_out.ipynb.
Matplotlib only, no randomness: the same PNG every run.
"""


import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from _common import ROOT, out_folder, save, use_fonts  # noqa: F401  (tools/figures/_common.py)

NAME = "allreduce.png"

# One colour per process (rank 0..3).
COLOURS = ("#1f77b4", "#e6730f", "#2ca02c", "#8e44ad")
LIGHT = ("#dbe8f5", "#fde6d0", "#d9f0d9", "#ecdff3")
# Each process's gradient (two numbers stand for millions). Their average is (0.3, 0.1).
GRADIENTS = ((0.8, -0.4), (0.2, 0.6), (-0.1, 0.3), (0.3, -0.1))
CENTRES = (1.6, 4.6, 7.6, 10.6)
WIDTH = 2.6


def fmt(g) -> str:
    return "[" + ", ".join(f"{v:.1f}".replace("-", "\u2212") for v in g) + "]"


def box(ax, x, y, w, h, face, edge, text="", size=10, bold=False, colour="black"):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.12",
                                facecolor=face, edgecolor=edge, linewidth=1.6))
    if text:
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size,
                fontweight="bold" if bold else "normal", color=colour)


def arrow(ax, start, end, colour="#333333"):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14,
                                 linewidth=1.5, color=colour))


def main() -> None:
    use_fonts()
    fig, ax = plt.subplots(figsize=(9.0, 6.4), dpi=100)
    ax.set_xlim(0, 12.2)
    ax.set_ylim(0.2, 10.2)
    ax.axis("off")

    ax.text(6.1, 9.85, "Data parallelism: one model copy per process, one share of the batch each",
            ha="center", fontsize=12, fontweight="bold")

    mean = tuple(sum(g[i] for g in GRADIENTS) / len(GRADIENTS) for i in range(2))
    for rank, (cx, g) in enumerate(zip(CENTRES, GRADIENTS)):
        strong, light = COLOURS[rank], LIGHT[rank]
        left = cx - WIDTH / 2
        ax.text(cx, 9.15, f"process {rank} (GPU {rank})", ha="center", fontsize=10,
                fontweight="bold", color=strong)
        # Its share of the batch: four little image tiles.
        box(ax, left, 7.85, WIDTH, 0.95, light, strong)
        for k in range(4):
            ax.add_patch(Rectangle((left + 0.15 + k * 0.3, 8.17), 0.25, 0.25, facecolor=strong,
                                   alpha=0.35 + 0.15 * k, edgecolor="white"))
        ax.text(left + 1.9, 8.3, f"images\n{16 * rank}–{16 * rank + 15}", ha="center",
                va="center", fontsize=8.5)
        arrow(ax, (cx, 7.85), (cx, 7.35))
        # The same model everywhere.
        box(ax, left, 6.45, WIDTH, 0.9, "white", "#555555", "model copy\nsame weights W", size=9)
        arrow(ax, (cx, 6.45), (cx, 5.85))
        ax.text(cx + 0.08, 6.15, "forward, backward", ha="left", va="center", fontsize=7,
                color="#444444")
        # Its own gradient.
        box(ax, left, 5.0, WIDTH, 0.85, light, strong, f"g{rank} = {fmt(g)}", size=10)
        arrow(ax, (cx, 5.0), (6.1 + (cx - 6.1) * 0.55, 4.3), colour=strong)

    # The all-reduce band.
    box(ax, 0.3, 3.05, 11.6, 1.25, "#f4f4f4", "#333333")
    ax.text(6.1, 3.95, "all-reduce (DDP runs it inside loss.backward())", ha="center",
            fontsize=10.5, fontweight="bold")
    ax.text(6.1, 3.4, f"ḡ = (g0 + g1 + g2 + g3) / 4 = {fmt(mean)}", ha="center", fontsize=11)

    for rank, cx in enumerate(CENTRES):
        left = cx - WIDTH / 2
        arrow(ax, (6.1 + (cx - 6.1) * 0.55, 3.05), (cx, 2.45), colour=COLOURS[rank])
        box(ax, left, 1.35, WIDTH, 1.1, "white", COLOURS[rank],
            f"ḡ = {fmt(mean)}\nW ← W − lr · ḡ", size=9.5)
    ax.text(6.1, 0.75, "Every process gets the same average and takes the same step: "
            "the copies stay identical.", ha="center", fontsize=10, color="#333333")

    fig.tight_layout(pad=0.2)
    save(fig, out_folder() / NAME)


if __name__ == "__main__":
    main()
