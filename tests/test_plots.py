"""labkit.plots: image grids whose captions stay readable.

A grid of images with class names (or "true / predicted") above each: a long name must not run
into its neighbour's, and no caption may be cut off at the figure's edge. The text is measured as
matplotlib draws it (the renderer's bounding boxes), so these tests fail on overlap, not on a guess.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from labkit import plots  # noqa: E402

# The offline stand-in's class names, and CIFAR-10's (both ten; "checkerboard" and "automobile"
# are the long ones).
CLASSES = ("circle", "square", "diamond", "triangle", "plus", "ring", "star", "stripes", "checkerboard", "dots")
CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
GAP_PX = 2  # the least space between two captions, in pixels


def _titles(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [(ax.get_title(), ax.title.get_window_extent(renderer)) for ax in fig.axes if ax.get_title()]


def _assert_readable(fig):
    titles = _titles(fig)
    assert titles, "the grid should have captions"
    for i, (text_a, a) in enumerate(titles):
        assert a.x0 >= 0 and a.x1 <= fig.bbox.x1 and a.y0 >= 0 and a.y1 <= fig.bbox.y1, (
            f"caption {text_a!r} is cut off at the figure's edge ({a} outside {fig.bbox})")
        for text_b, b in titles[i + 1:]:
            apart = (a.x1 + GAP_PX <= b.x0 or b.x1 + GAP_PX <= a.x0
                     or a.y1 + GAP_PX <= b.y0 or b.y1 + GAP_PX <= a.y0)
            assert apart, f"captions {text_a!r} and {text_b!r} run into each other: {a} and {b}"


def _batch(n):
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.mark.parametrize("classes", [CLASSES, CIFAR10], ids=["stand-in", "cifar10"])
@pytest.mark.parametrize("n, ncols", [(16, 8), (8, 8), (9, 9), (3, 8)])
def test_true_and_predicted_captions_never_overlap(classes, n, ncols):
    # The worst case: every caption is the longest class name twice.
    longest = max(range(len(classes)), key=lambda k: len(classes[k]))
    labels = predictions = torch.full((n,), longest)
    fig = plots.show_images(_batch(n), labels, classes, predictions=predictions, ncols=ncols)
    try:
        _assert_readable(fig)
    finally:
        plt.close(fig)


@pytest.mark.parametrize("classes", [CLASSES, CIFAR10, ["a rather long class name"] * 10],
                         ids=["stand-in", "cifar10", "long"])
def test_class_name_captions_never_overlap(classes):
    fig = plots.show_images(_batch(16), torch.arange(16) % 10, classes)
    try:
        _assert_readable(fig)
    finally:
        plt.close(fig)


def test_short_captions_keep_the_columns_asked_for():
    fig = plots.show_images(_batch(16), torch.arange(16) % 10, [str(k) for k in range(10)], ncols=8)
    try:
        columns = {round(ax.get_position().x0, 3) for ax in fig.axes if ax.images}
        assert len(columns) == 8, f"16 images with short captions should fill 8 columns, got {len(columns)}"
    finally:
        plt.close(fig)


def test_long_captions_get_fewer_columns_not_a_wider_figure():
    names = ["checkerboard"] * 10
    fig = plots.show_images(_batch(16), torch.zeros(16, dtype=torch.long), names,
                            predictions=torch.zeros(16, dtype=torch.long), ncols=8)
    try:
        columns = {round(ax.get_position().x0, 3) for ax in fig.axes if ax.images}
        assert len(columns) < 8
        assert fig.get_figwidth() <= 11.2 + 1e-6, "the grid should not grow wider than 8 standard panels"
    finally:
        plt.close(fig)


def test_captions_say_true_and_predicted_and_mark_mistakes_red():
    # Notebook 02 compares labkit's captions with its own show_images: the words must not change.
    labels, predictions = torch.tensor([0, 1, 2]), torch.tensor([0, 2, 2])
    fig = plots.show_images(_batch(3), labels, CLASSES, predictions=predictions)
    try:
        shown = [(ax.get_title(), ax.title.get_color()) for ax in fig.axes if ax.images]
        assert shown == [(f"{CLASSES[0]} / {CLASSES[0]}", "black"),
                         (f"{CLASSES[1]} / {CLASSES[2]}", "red"),
                         (f"{CLASSES[2]} / {CLASSES[2]}", "black")]
    finally:
        plt.close(fig)
    fig = plots.show_images(_batch(3), labels, CLASSES)
    try:
        assert [ax.get_title() for ax in fig.axes if ax.images] == list(CLASSES[:3])
    finally:
        plt.close(fig)


@pytest.mark.parametrize("classes", [CLASSES, CIFAR10, [f"a rather long class name {k}" for k in range(10)]],
                         ids=["stand-in", "cifar10", "long names"])
@pytest.mark.parametrize("n", [8, 16])
def test_top_losses_captions_never_overlap(classes, n):
    """notebook 05's most confident mistakes: "true / predicted" over "p=… loss=…", longest names."""
    order = sorted(range(len(classes)), key=lambda k: -len(classes[k]))
    labels, predictions = torch.full((n,), order[0]), torch.full((n,), order[1])
    fig = plots.show_top_losses(_batch(n), labels, predictions, torch.full((n,), 0.99),
                                torch.full((n,), 12.3), classes)
    try:
        _assert_readable(fig)
    finally:
        plt.close(fig)


# ---- the curves and heat maps show the numbers they are given, where the labels say ----------

def test_the_confusion_matrix_heat_map_has_true_classes_as_rows():
    cm = torch.tensor([[5, 1, 0], [2, 7, 0], [0, 3, 9]])          # not symmetric
    fig = plots.plot_confusion_matrix(cm, ["a", "b", "c"], title="cm")
    ax = fig.axes[0]
    assert (ax.images[0].get_array() == cm.numpy()).all(), "row i, column j must be cm[i, j]"
    assert ax.get_ylabel() == "true class" and ax.get_xlabel() == "predicted class"
    # The number written in each cell is that cell's count, at (x=column, y=row).
    texts = {(round(t.get_position()[0]), round(t.get_position()[1])): t.get_text() for t in ax.texts}
    assert texts[(0, 1)] == "2" and texts[(1, 0)] == "1" and texts[(1, 2)] == "3"
    plt.close(fig)


def test_plot_history_draws_each_series_under_its_own_name():
    history = {"step": [5, 10, 15], "step_loss": [2.2, 2.0, 1.9], "epoch": [1, 2],
               "train_loss": [2.1, 1.7], "test_loss": [2.0, 1.8], "test_accuracy": [0.3, 0.45]}
    fig = plots.plot_history(history)
    running, losses, accuracy = fig.axes
    assert list(running.lines[0].get_xdata()) == [5, 10, 15]
    assert list(running.lines[0].get_ydata()) == [2.2, 2.0, 1.9]
    by_label = {line.get_label(): list(line.get_ydata()) for line in losses.lines}
    assert by_label == {"training": [2.1, 1.7], "test": [2.0, 1.8]}
    assert list(accuracy.lines[0].get_ydata()) == pytest.approx([30.0, 45.0])   # in percent
    plt.close(fig)


def test_per_class_accuracy_bars_are_percentages_with_chance_marked():
    fig = plots.plot_per_class_accuracy(torch.tensor([0.5, 0.25, 1.0, 0.0]), ["a", "b", "c", "d"])
    ax = fig.axes[0]
    assert [bar.get_height() for bar in ax.patches] == pytest.approx([50.0, 25.0, 100.0, 0.0])
    chance = [line for line in ax.lines if line.get_label() == "chance"]
    assert chance and list(chance[0].get_ydata()) == pytest.approx([25.0, 25.0])
    plt.close(fig)
