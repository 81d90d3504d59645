"""Pictures the notebooks draw more than once: image grids, filters and feature maps.

Every function returns the matplotlib ``Figure`` so a notebook can save or adjust it.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from matplotlib.textpath import TextPath

from .data import unnormalize


def _grid(n: int, ncols: int, width: float, height: float):
    """A figure with ``n`` small panels in rows of ``ncols``; every panel's axes hidden.

    Returns the figure and the first ``n`` axes (panels beyond ``n`` stay empty).
    """
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, list(axes.flat)[:n]


def _finish(fig, title):
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _caption_width(text: str, fontsize: float) -> float:
    """How wide ``text`` is drawn, in inches, at ``fontsize`` points (matplotlib's default font)."""
    return max(TextPath((0, 0), line, size=fontsize).get_extents().width / 72 if line.strip() else 0.0
               for line in text.split("\n"))


def _fit_captions(captions, fontsize: float, ncols: int, width: float, max_width: float = 11.2):
    """Panel width and column count so that no caption runs into its neighbour.

    Each panel is at least ``width`` inches wide, wider when its longest caption needs it (plus a
    small gap). When ``ncols`` such panels would make the figure wider than ``max_width`` inches
    (8 panels of 1.4 inches, what a notebook shows at full size), the grid gets fewer columns,
    spread evenly over the rows (16 images in 4 rows of 4 rather than 3 of 5 and one of 1).
    """
    widest = max((_caption_width(c, fontsize) for c in captions), default=0.0)
    width = max(width, widest + 0.3)
    fitting = max(1, int(max_width // width))
    if fitting < min(ncols, len(captions)):
        rows = math.ceil(len(captions) / fitting)
        ncols = math.ceil(len(captions) / rows)
    return width, ncols


def show_images(images: torch.Tensor, labels=None, classes=None, predictions=None,
                ncols: int = 8, normalized: bool = True, title: str | None = None):
    """Show a batch of images (N, 3, H, W) in a grid, with class names under each.

    ``normalized=True`` undoes the tutorial's ``Normalize`` first (x * 0.5 + 0.5), so the
    colours look right. With ``predictions``, each caption reads "true / predicted" and
    wrong predictions are written in red. ``ncols`` is the most images per row: long captions
    get wider panels, and fewer of them per row, so that no caption runs into its neighbour.
    """
    images = images.detach().cpu()
    if normalized:
        images = unnormalize(images)
    images = images.clamp(0, 1)
    captions, colours = [], []
    for i in range(len(images) if labels is not None else 0):
        true = classes[int(labels[i])] if classes is not None else str(int(labels[i]))
        if predictions is None:
            captions.append(true)
            colours.append("black")
        else:
            pred = classes[int(predictions[i])] if classes is not None else str(int(predictions[i]))
            captions.append(f"{true} / {pred}")
            colours.append("red" if int(predictions[i]) != int(labels[i]) else "black")
    fontsize = 8
    width, ncols = _fit_captions(captions, fontsize, ncols, width=1.4)
    fig, axes = _grid(len(images), ncols, width=width, height=1.8)
    for i, ax in enumerate(axes):
        ax.imshow(images[i].permute(1, 2, 0).numpy())  # CHW -> HWC for matplotlib
        if captions:
            ax.set_title(captions[i], fontsize=fontsize, color=colours[i])
    return _finish(fig, title)


def plot_filters(weight: torch.Tensor, ncols: int = 8, title: str | None = None):
    """Show convolution filters (out_channels, 3, k, k) as small colour pictures.

    Each filter is rescaled to 0..1 on its own, so the pattern is visible whatever its size.
    """
    weight = weight.detach().cpu().float()
    fig, axes = _grid(weight.shape[0], ncols, width=1.2, height=1.2)
    for i, ax in enumerate(axes):
        w = weight[i]
        w = (w - w.min()) / (w.max() - w.min() + 1e-8)
        if w.shape[0] == 3:
            ax.imshow(w.permute(1, 2, 0).numpy())
        else:
            ax.imshow(w[0].numpy(), cmap="gray")
        ax.set_title(f"{i}", fontsize=7)
    return _finish(fig, title)


def plot_feature_maps(maps: torch.Tensor, ncols: int = 8, title: str | None = None):
    """Show the channels of one image's feature maps (C, H, W), one small picture each."""
    maps = maps.detach().cpu().float()
    fig, axes = _grid(maps.shape[0], ncols, width=1.4, height=1.5)
    for i, ax in enumerate(axes):
        ax.imshow(maps[i].numpy(), cmap="viridis")
        ax.set_title(f"channel {i}", fontsize=7)
    return _finish(fig, title)


def plot_history(history: dict, title: str | None = None):
    """Three panels: the running training loss, the loss per epoch, and test accuracy per epoch."""
    fig, (running, losses, accuracy) = plt.subplots(1, 3, figsize=(12, 3.3))
    running.plot(history["step"], history["step_loss"], color="tab:blue")
    running.set_xlabel("batches seen")
    running.set_ylabel("training loss (running mean)")
    losses.plot(history["epoch"], history["train_loss"], "o-", label="training")
    losses.plot(history["epoch"], history["test_loss"], "s-", label="test")
    losses.set_xlabel("epoch")
    losses.set_ylabel("cross-entropy loss")
    losses.legend()
    accuracy.plot(history["epoch"], [100 * a for a in history["test_accuracy"]], "s-",
                  color="tab:orange")
    accuracy.set_xlabel("epoch")
    accuracy.set_ylabel("test accuracy (%)")
    accuracy.set_ylim(0, 100)
    for ax in (losses, accuracy):
        ax.xaxis.get_major_locator().set_params(integer=True)
    return _finish(fig, title)


def plot_confusion_matrix(cm: torch.Tensor, classes, title: str | None = None):
    """The confusion matrix as a heat map: rows are true classes, columns predicted ones."""
    cm = cm.detach().cpu()
    n = len(classes)
    fig, ax = plt.subplots(figsize=(0.6 * n + 2, 0.6 * n + 1.5))
    ax.imshow(cm.numpy(), cmap="Blues")
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    threshold = cm.max().item() / 2
    for i in range(n):
        for j in range(n):
            value = int(cm[i, j])
            ax.text(j, i, str(value), ha="center", va="center", fontsize=7,
                    color="white" if value > threshold else "black")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_per_class_accuracy(accuracy: torch.Tensor, classes, title: str | None = None):
    """A bar per class: the share of its test images the model got right."""
    fig, ax = plt.subplots(figsize=(8, 3))
    values = [100 * float(a) for a in accuracy]
    ax.bar(range(len(classes)), values, color="tab:blue")
    ax.axhline(100 / len(classes), color="gray", linestyle="--", label="chance")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_lr_range_test(lrs, losses, suggestion: dict | None = None, raw_losses=None,
                       title: str | None = None):
    """The range test's loss against the learning rate, on a logarithmic axis.

    With ``suggestion`` (from ``labkit.training.suggest_lr``), the steepest descent and the
    lowest loss are marked.
    """
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    if raw_losses is not None:
        ax.plot(lrs[:len(raw_losses)], raw_losses, color="0.8", linewidth=0.8, label="loss of each batch")
    ax.plot(lrs, losses, color="tab:blue", label="smoothed loss")
    if suggestion is not None:
        i, j = suggestion["steepest_index"], suggestion["minimum_index"]
        ax.plot(lrs[i], losses[i], "o", color="tab:green", markersize=8,
                label=f"steepest descent: lr {lrs[i]:.2g}")
        ax.plot(lrs[j], losses[j], "v", color="tab:red", markersize=8,
                label=f"lowest loss: lr {lrs[j]:.2g}")
    ax.set_xscale("log")
    top = max(losses[0], min(losses)) * 1.5
    ax.set_ylim(min(losses) * 0.9, top)
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def show_top_losses(images: torch.Tensor, labels, predictions, probabilities, losses, classes,
                    ncols: int = 8, normalized: bool = True, title: str | None = None):
    """The most confident mistakes: each image with "true / predicted", the probability the
    model gave its prediction, and the loss (see ``labkit.training.top_losses``)."""
    images = images.detach().cpu()
    if normalized:
        images = unnormalize(images)
    images = images.clamp(0, 1)
    captions = [f"{classes[int(t)]} / {classes[int(p)]}\np={float(q):.2f} loss={float(loss):.1f}"
                for t, p, q, loss in zip(labels, predictions, probabilities, losses)]
    width, ncols = _fit_captions(captions, 8, ncols, width=1.5, max_width=10.8)   # none runs into the next
    width += 0.2                                  # two-line captions: a little more room
    fig, axes = _grid(len(images), ncols, width=width, height=2.2)
    for i, ax in enumerate(axes):
        ax.imshow(images[i].permute(1, 2, 0).numpy())
        wrong = int(labels[i]) != int(predictions[i])
        ax.set_title(captions[i], fontsize=8, color="red" if wrong else "black")
    return _finish(fig, title)
