"""Draw images/optimizers.png: SGD, SGD with momentum and Adam on the same 2-D loss surface.

    python tools/figures/optimizers.py [OUTPUT_FOLDER]

The loss is notebook 04's elongated bowl of two weights, loss(w) = 0.5 (w0² + 20 w1²): steep across
(w1) and gentle along (w0), the shape that makes plain gradient descent slow. The optimizers, their
settings, the start (-4, 1.5) and the 50 steps are notebook 04's, so this is the picture the notebook
draws. Each path is computed with ``torch.optim``: the two weights are the "parameters", and every
step is ``zero_grad(); loss.backward(); optimizer.step()``, as in the training loop.
Left: the paths on the contour lines of the loss. Right: the loss after every step (log scale).
Deterministic: the same script always writes the same bytes. OUTPUT_FOLDER defaults to images/.
"""


import matplotlib.pyplot as plt
import numpy as np
import torch
from _common import ROOT, out_folder, save, use_fonts  # noqa: F401  (tools/figures/_common.py)

START = (-4.0, 1.5)
STEPS = 50

# (label, colour, marker, how to build the optimizer for a list of parameters)
OPTIMIZERS = [
    ("SGD, lr=0.02", "#1f77b4", "o", lambda params: torch.optim.SGD(params, lr=0.02)),
    ("SGD, lr=0.02, momentum=0.9 (the tutorial's momentum)", "#e6730f", "s",
     lambda params: torch.optim.SGD(params, lr=0.02, momentum=0.9)),
    ("Adam, lr=0.3", "#2ca02c", "^", lambda params: torch.optim.Adam(params, lr=0.3)),
]


def bowl(w: torch.Tensor) -> torch.Tensor:
    """Notebook 04's toy loss of two weights: an elongated bowl, lowest (0) at (0, 0)."""
    return 0.5 * (w[0] ** 2 + 20 * w[1] ** 2)


def trajectory(make_optimizer):
    """Minimise bowl() from START for STEPS steps; return the points and the losses."""
    w = torch.tensor(START, requires_grad=True)   # the two weights we train (float32)
    optimizer = make_optimizer([w])
    points, losses = [w.detach().clone()], [bowl(w).item()]
    for _ in range(STEPS):
        optimizer.zero_grad()        # forget the previous step's gradient
        loss = bowl(w)
        loss.backward()              # d loss / d w, stored in w.grad
        optimizer.step()             # move w as this optimizer's rule says
        points.append(w.detach().clone())
        losses.append(bowl(w).item())
    return torch.stack(points).numpy(), np.array(losses)


def main() -> None:
    out_dir = out_folder()
    use_fonts()

    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(12, 4.8), dpi=100,
                                      gridspec_kw={"width_ratios": [1.55, 1]})
    xs, ys = np.meshgrid(np.linspace(-5, 5, 301), np.linspace(-2.5, 2.5, 201))
    zs = 0.5 * (xs ** 2 + 20 * ys ** 2)
    levels = [0.1, 0.3, 1, 3, 10, 30, 100]
    ax.contourf(xs, ys, zs, levels=[0] + levels + [400], cmap="Greys", alpha=0.35)
    contours = ax.contour(xs, ys, zs, levels=levels, colors="#777777", linewidths=0.6)
    ax.clabel(contours, levels[3:], fontsize=7, fmt="%g")
    ax.plot(*START, "ko", markersize=7, zorder=5)
    ax.annotate("start", START, xytext=(-4.3, 1.8), fontsize=9)
    ax.plot(0, 0, "k*", markersize=13, zorder=5)
    ax.annotate("minimum", (0, 0), xytext=(1.9, -1.1), fontsize=9,
                arrowprops={"arrowstyle": "->", "color": "black", "linewidth": 0.8})

    for label, colour, marker, make in OPTIMIZERS:
        points, losses = trajectory(make)
        ax.plot(points[:, 0], points[:, 1], "-", marker=marker, color=colour, markersize=4,
                linewidth=1.4, label=label, zorder=4)
        ax_loss.semilogy(range(STEPS + 1), losses, "-", marker=marker, color=colour,
                         markersize=3.5, linewidth=1.4, label=label)

    ax.set_xlim(-5, 5)
    ax.set_ylim(-2.5, 2.5)
    ax.set_aspect("equal")
    ax.set_xlabel("w0 (the gentle direction)")
    ax.set_ylabel("w1 (the steep direction)")
    ax.set_title("Paths on the loss surface  loss(w) = 0.5·(w0² + 20·w1²)", fontsize=11)
    ax.legend(loc="lower left", fontsize=8.5, framealpha=0.95)

    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss (log scale)")
    ax_loss.set_title(f"Loss after each of {STEPS} steps", fontsize=11)
    ax_loss.grid(True, which="major", alpha=0.3)
    ax_loss.set_xlim(0, STEPS)

    fig.suptitle("Three optimizers from torch.optim, same start, same number of steps",
                 fontsize=13, fontweight="bold")
    fig.tight_layout()
    save(fig, out_dir / "optimizers.png")


if __name__ == "__main__":
    main()
