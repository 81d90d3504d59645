"""Draw images/network.png: the tutorial's Net, with the shape of one image's tensor after every layer.

    python tools/figures/network.py [OUTPUT_FOLDER]

Top row, the feature extractor: 3x32x32 -> conv1 6x28x28 -> pool 6x14x14 -> conv2 16x10x10
-> pool 16x5x5. Bottom row, the classifier: flatten 400 -> fc1 120 -> fc2 84 -> fc3 10.
The shapes and parameter counts are not typed in: the script builds ``labkit.models.Net``, runs
one image through it with forward hooks, and draws what it measured.
Deterministic: the same script always writes the same bytes. OUTPUT_FOLDER defaults to images/.
"""

import math

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import FancyArrowPatch, Rectangle

from labkit.models import Net
from _common import ROOT, out_folder, save, use_fonts  # noqa: F401  (tools/figures/_common.py)

EDGE = "#333333"
RGB = ("#e57373", "#81c784", "#64b5f6")
CONV = "#9fc5e8"
POOL = "#b6d7a8"
VECTOR = "#f9cb9c"
SCORES = "#d5a6bd"
PIXEL = 0.07           # drawn size of one pixel of a feature map, in data units


def measure():
    """Run one 3x32x32 image through Net; return the steps as (layer, module, output shape)."""
    torch.manual_seed(0)
    net = Net()
    steps = []

    def hook(name):
        def record(module, inputs, output):
            steps.append((name, module, tuple(output.shape[1:])))
        return record

    names = {"conv1": net.conv1, "pool": net.pool, "conv2": net.conv2,
             "fc1": net.fc1, "fc2": net.fc2, "fc3": net.fc3}
    for name, module in names.items():
        module.register_forward_hook(hook(name))
    with torch.no_grad():
        net(torch.zeros(1, 3, 32, 32))
    # torch.flatten is a function in forward(), not a module: it sits between the second pool and fc1.
    flat = (math.prod(steps[3][2]),)
    steps.insert(4, ("flatten", None, flat))
    expected = [("conv1", (6, 28, 28)), ("pool", (6, 14, 14)), ("conv2", (16, 10, 10)),
                ("pool", (16, 5, 5)), ("flatten", (400,)), ("fc1", (120,)), ("fc2", (84,)),
                ("fc3", (10,))]
    assert [(n, s) for n, _, s in steps] == expected, steps
    total = sum(p.numel() for p in net.parameters())
    return steps, total


def times(shape) -> str:
    return " × ".join(str(s) for s in shape)


def stack(ax, x, y_centre, shape, colours, shift):
    """Draw a C x H x W tensor as C slabs, the first channel in front. Returns its right edge x."""
    c, h, w = shape
    side_w, side_h = w * PIXEL, h * PIXEL
    y0 = y_centre - side_h / 2 - (c - 1) * shift / 2
    for k in reversed(range(c)):          # the back slab first
        colour = colours[k % len(colours)]
        ax.add_patch(Rectangle((x + k * shift, y0 + k * shift), side_w, side_h,
                               facecolor=colour, edgecolor=EDGE, linewidth=0.7))
    return x + side_w + (c - 1) * shift


def vector(ax, x, y_centre, n, colour, width=0.42):
    """Draw a vector of n numbers as a bar, its height on a square-root scale. Returns the right edge."""
    height = 0.18 * math.sqrt(n)
    ax.add_patch(Rectangle((x, y_centre - height / 2), width, height, facecolor=colour,
                           edgecolor=EDGE, linewidth=0.9))
    for k in range(1, min(n, 24)):        # a few lines suggest separate numbers
        yy = y_centre - height / 2 + k * height / min(n, 24)
        ax.plot([x, x + width], [yy, yy], color=EDGE, linewidth=0.25)
    return x + width


def arrow(ax, x0, x1, y, title, code):
    ax.add_patch(FancyArrowPatch((x0, y), (x1, y), arrowstyle="-|>", mutation_scale=16,
                                 linewidth=1.6, color="#444444"))
    xm = (x0 + x1) / 2
    ax.text(xm, y + 0.32, title, ha="center", va="bottom", fontsize=11, fontweight="bold")
    ax.text(xm, y - 0.3, code, ha="center", va="top", fontsize=8.5, family="monospace",
            color="#444444", linespacing=1.3)


def label(ax, x, y_top, shape, text):
    ax.text(x, y_top, times(shape), ha="center", va="top", fontsize=11.5, fontweight="bold")
    ax.text(x, y_top - 0.5, text, ha="center", va="top", fontsize=9, color="#444444",
            linespacing=1.3)


def code_of(name, module, params):
    if name.startswith("conv"):
        return (f"Conv2d({module.in_channels}, {module.out_channels}, {module.kernel_size[0]})\n"
                f"then ReLU\n{params:,} parameters")
    if name == "pool":
        return f"MaxPool2d({module.kernel_size}, {module.stride})\nno parameters"
    if name == "flatten":
        return "torch.flatten(x, 1)"
    relu = "" if name == "fc3" else "\nthen ReLU"
    return f"Linear({module.in_features}, {module.out_features}){relu}\n{params:,} parameters"


def main() -> None:
    out_dir = out_folder()
    use_fonts()
    steps, total = measure()

    fig, ax = plt.subplots(figsize=(11, 7.2), dpi=100)
    ax.set_xlim(0, 22)
    ax.set_ylim(0, 15.0)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.text(11, 14.75, "The tutorial's Net: the shape of one image after every layer",
            ha="center", va="top", fontsize=14, fontweight="bold")
    ax.text(11, 14.05, f"A batch of N images adds a first dimension N to every shape "
            f"(the input is N × 3 × 32 × 32).  {total:,} parameters in all.",
            ha="center", va="top", fontsize=9.5, color="#444444")

    # --- Top row: the feature extractor ----------------------------------------------------
    y1, arrow_len = 10.9, 2.05
    x = 0.5
    right = stack(ax, x, y1, (3, 32, 32), RGB, 0.25)
    label(ax, (x + right) / 2, y1 - 2.1, (3, 32, 32), "input image\n(3 colour channels)")
    texts = {1: "6 feature maps", 2: "6 feature maps,\nhalf the size",
             3: "16 feature maps", 4: "16 feature maps,\nhalf the size"}
    colours = {1: [CONV], 2: [POOL], 3: [CONV], 4: [POOL]}
    for i in range(4):
        name, module, shape = steps[i]
        params = sum(p.numel() for p in module.parameters())
        arrow(ax, right + 0.2, right + 0.2 + arrow_len, y1, name, code_of(name, module, params))
        x = right + 0.4 + arrow_len
        shift = 0.15 if shape[0] <= 6 else 0.08
        new_right = stack(ax, x, y1, shape, colours[i + 1], shift)
        label(ax, (x + new_right) / 2, y1 - 2.1, shape, texts[i + 1])
        right = new_right
    top_row_end = right

    # --- From the top row to the bottom row: flatten -------------------------------------
    y2 = 3.5
    path_y = 6.75
    corner_x = 1.0
    start_x = 21.5
    ax.plot([top_row_end + 0.1, start_x, start_x, corner_x, corner_x], [y1, y1, path_y, path_y, y2],
            color="#444444", linewidth=1.6)
    name, _, shape = steps[4]
    ax.text((start_x + corner_x) / 2, path_y + 0.18, "flatten", ha="center", va="bottom",
            fontsize=11, fontweight="bold")
    ax.text((start_x + corner_x) / 2, path_y - 0.18, "torch.flatten(x, 1): 16 × 5 × 5 = 400 numbers in a row",
            ha="center", va="top", fontsize=8.5, family="monospace", color="#444444")
    ax.add_patch(FancyArrowPatch((corner_x, y2), (corner_x + 0.75, y2), arrowstyle="-|>",
                                 mutation_scale=16, linewidth=1.6, color="#444444"))

    # --- Bottom row: the classifier --------------------------------------------------------
    x = corner_x + 0.85
    right = vector(ax, x, y2, shape[0], VECTOR)
    label(ax, (x + right) / 2, y2 - 2.2, shape, "one vector\nper image")
    arrow_len = 3.4
    texts = {5: "", 6: "", 7: "10 scores (logits),\none per class"}
    for i in range(5, 8):
        name, module, shape = steps[i]
        params = sum(p.numel() for p in module.parameters())
        arrow(ax, right + 0.25, right + 0.25 + arrow_len, y2, name, code_of(name, module, params))
        x = right + 0.5 + arrow_len
        right = vector(ax, x, y2, shape[0], SCORES if i == 7 else VECTOR)
        label(ax, (x + right) / 2, y2 - 2.2, shape, texts[i])
    ax.text(21.5, y2, "Feature maps drawn to scale;\nvectors on a square-root scale.",
            ha="right", va="center", fontsize=8, color="#777777")

    fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.01)
    save(fig, out_dir / "network.png")


if __name__ == "__main__":
    main()
