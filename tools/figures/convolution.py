"""Draw images/convolution.gif (animated) and images/convolution.png (a still): a 3x3 kernel
sliding over a 5x5 input.

    python tools/figures/convolution.py [OUTPUT_FOLDER]

Each frame shows the input with the kernel's window on it, the kernel and its bias, the output
filled in up to the current position, and the sum of products that gives the current number.
The numbers are the ones notebook 03 convolves by hand (a vertical-edge kernel, bias 0.5), and
the output is computed with ``torch.nn.functional.conv2d``, so the picture and the notebook agree.
Deterministic: the same script always writes the same bytes (checked by tests/test_labs.py).
OUTPUT_FOLDER defaults to the repository's images/ folder.
"""


import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.patches import Rectangle
from _common import ROOT, out_folder, save, use_fonts  # noqa: F401  (tools/figures/_common.py)


# Notebook 03, section 1: one 5x5 image with one channel, a 3x3 kernel and a bias.
IMAGE = [[1, 2, 0, 1, 3],
         [0, 1, 3, 2, 1],
         [2, 0, 1, 0, 2],
         [1, 3, 2, 1, 0],
         [0, 1, 2, 3, 1]]
KERNEL = [[1, 0, -1],
          [1, 0, -1],
          [1, 0, -1]]
BIAS = 0.5

WINDOW = "#e6730f"        # the kernel's window and the output it produces
WINDOW_FILL = "#fde2c8"
INPUT_FILL = "#e8eef7"
KERNEL_FILL = "#d5efd5"
OUTPUT_FILL = "#ead9f2"
EDGE = "#333333"

# Where each grid sits (x of its left edge, y of its bottom edge), in data units of one cell.
INPUT_X, KERNEL_X, OUTPUT_X = 0.0, 7.0, 13.0
INPUT_Y, KERNEL_Y, OUTPUT_Y = 0.0, 1.0, 1.0


def compute_output():
    """The 3x3 output, computed by PyTorch exactly as notebook 03 does."""
    x = torch.tensor(IMAGE, dtype=torch.float32).view(1, 1, 5, 5)
    w = torch.tensor(KERNEL, dtype=torch.float32).view(1, 1, 3, 3)
    out = F.conv2d(x, w, torch.tensor([BIAS]))[0, 0]
    # The same sum of products written out, as a check on the picture's arithmetic.
    for i in range(3):
        for j in range(3):
            total = BIAS + sum(IMAGE[i + u][j + v] * KERNEL[u][v] for u in range(3) for v in range(3))
            assert abs(total - out[i, j].item()) < 1e-6, (i, j, total, out[i, j].item())
    return out.tolist()


def number(v) -> str:
    """1.0 -> '1', -0.5 -> '−0.5' (a real minus sign)."""
    text = f"{v:g}"
    return text.replace("-", "\u2212")


def cell(ax, x, y, text, face, edge=EDGE, lw=1.0, size=13, bold=False, color="black"):
    ax.add_patch(Rectangle((x, y), 1, 1, facecolor=face, edgecolor=edge, linewidth=lw))
    if text != "":
        ax.text(x + 0.5, y + 0.5, text, ha="center", va="center", fontsize=size,
                fontweight="bold" if bold else "normal", color=color)


def arithmetic(i: int, j: int, value: float) -> str:
    """'1·1 + 2·0 + ... + 0.5 = −0.5' for the window whose top-left corner is (i, j)."""
    def weight(w):
        return number(w) if w >= 0 else f"({number(w)})"   # brackets around negative weights

    terms = [f"{IMAGE[i + u][j + v]}·{weight(KERNEL[u][v])}" for u in range(3) for v in range(3)]
    return " + ".join(terms) + f" + {number(BIAS)} = {number(value)}"


def draw(ax, output, step: int) -> None:
    """Draw the state after ``step`` outputs (0..9); the window of output ``step`` is shown
    when step < 9, and the finished output when step == 9."""
    ax.clear()
    ax.set_xlim(-0.6, 16.6)
    ax.set_ylim(-1.9, 6.1)
    ax.set_aspect("equal")
    ax.axis("off")
    done = step >= 9
    i, j = (step // 3, step % 3) if not done else (None, None)

    # The input, row 0 at the top; the window's cells tinted, the kernel weight in their corner.
    for r in range(5):
        for c in range(5):
            inside = not done and i <= r < i + 3 and j <= c < j + 3
            x, y = INPUT_X + c, INPUT_Y + 4 - r
            cell(ax, x, y, str(IMAGE[r][c]), WINDOW_FILL if inside else INPUT_FILL)
            if inside:
                ax.text(x + 0.93, y + 0.08, "×" + number(KERNEL[r - i][c - j]), ha="right",
                        va="bottom", fontsize=7.5, color=WINDOW)
    if not done:
        ax.add_patch(Rectangle((INPUT_X + j, INPUT_Y + 4 - (i + 2)), 3, 3, fill=False,
                               edgecolor=WINDOW, linewidth=3))
    ax.text(INPUT_X + 2.5, 5.35, "input: 5 × 5", ha="center", fontsize=12)

    # The kernel and the bias.
    for r in range(3):
        for c in range(3):
            cell(ax, KERNEL_X + c, KERNEL_Y + 2 - r, number(KERNEL[r][c]), KERNEL_FILL)
    ax.text(KERNEL_X + 1.5, 4.35, "kernel: 3 × 3", ha="center", fontsize=12)
    ax.text(KERNEL_X + 1.5, 0.35, f"bias = {number(BIAS)}", ha="center", fontsize=11)

    # The output: filled up to the current position.
    ax.text(OUTPUT_X - 0.9, 2.5, "→", ha="center", va="center", fontsize=22, color="#444444")
    for r in range(3):
        for c in range(3):
            k = r * 3 + c
            current = not done and k == step
            text = number(output[r][c]) if (done or k <= step) else ""
            cell(ax, OUTPUT_X + c, OUTPUT_Y + 2 - r, text,
                 WINDOW_FILL if current else OUTPUT_FILL,
                 edge=WINDOW if current else EDGE, lw=3 if current else 1.0,
                 size=11, bold=current)
    ax.text(OUTPUT_X + 1.5, 4.35, "output: 3 × 3", ha="center", fontsize=12)

    # What is being computed.
    if done:
        title = "Done: the kernel has visited all 3 × 3 positions (stride 1, no padding)."
        detail = "Each output number = sum of (input × kernel) over a 3 × 3 window, plus the bias."
    else:
        title = f"Position {step + 1} of 9: window at row {i}, column {j}"
        detail = arithmetic(i, j, output[i][j])
    ax.text(8.0, -0.85, title, ha="center", va="center", fontsize=11)
    ax.text(8.0, -1.5, detail, ha="center", va="center", fontsize=10.5,
            color=WINDOW if not done else "#444444")


def main() -> None:
    out_dir = out_folder()
    use_fonts()
    output = compute_output()

    # The still: the middle position, with the first four outputs already filled in.
    fig, ax = plt.subplots(figsize=(8.5, 4.0), dpi=100)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.01)
    draw(ax, output, step=4)
    save(fig, out_dir / "convolution.png")

    # The animation: nine positions, then the finished output held for two frames.
    fig, ax = plt.subplots(figsize=(8.5, 4.0), dpi=80)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.01)
    steps = list(range(9)) + [9, 9]
    animation = FuncAnimation(fig, lambda k: draw(ax, output, steps[k]), frames=len(steps))
    animation.save(out_dir / "convolution.gif", writer=PillowWriter(fps=1), dpi=80)
    plt.close(fig)
    print(f"wrote {out_dir / 'convolution.gif'}")


if __name__ == "__main__":
    main()
