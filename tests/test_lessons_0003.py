"""labkit is the code that notebooks 02 and 03 write out by hand, tidied.

Each notebook says so in one sentence; these tests check it. The hand-written functions and classes are
read from the notebooks themselves (the code cell that defines them), so a change in a lesson that
labkit does not follow fails here. The rest of the hand-written code (the tutorial's transform and
loaders) is written below exactly as the notebook writes it.
"""

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision.transforms as transforms  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from labkit import models, plots  # noqa: E402
from labkit.data import (load_dataset, make_loaders, profile_subset, tutorial_transform,  # noqa: E402
                         unnormalize as labkit_unnormalize)

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def defined_in(notebook: str, *names: str) -> dict:
    """Run the notebook's code cells that define `names` (and nothing else) and return what they define."""
    nb = json.loads((NOTEBOOKS / notebook).read_text())
    namespace = {"torch": torch, "nn": nn, "F": F, "plt": plt, "math": math, "np": np}
    for name in names:
        sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
        found = [s for s in sources if f"def {name}(" in s or f"class {name}(" in s]
        assert len(found) == 1, f"{notebook}: expected one cell that defines {name}, found {len(found)}"
        exec(compile(found[0], f"{notebook}:{name}", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def trainset(settings, stand_in_root):
    return load_dataset(settings, train=True, transform=tutorial_transform())


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# Notebook 02

def test_tutorial_transform_is_the_tutorials_compose(settings, stand_in_root):
    transform = transforms.Compose(
        [transforms.ToTensor(),
         transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    raw = load_dataset(settings, train=True)
    labkit_transform = tutorial_transform()
    for a in raw.data[:100]:
        assert torch.equal(transform(Image.fromarray(a)), labkit_transform(Image.fromarray(a)))


def drawn(fig):
    """The pixel arrays and the captions a figure shows, one pair per image."""
    def caption(ax):
        return " ".join(t for t in [ax.get_title(), ax.get_xlabel(), *(t.get_text() for t in ax.texts)] if t)
    return [(ax.images[0].get_array(), caption(ax)) for ax in fig.axes if ax.images]


def test_unnormalize_and_show_images_are_the_notebooks(settings, trainset):
    lesson = defined_in("02_datasets_and_dataloaders.ipynb", "unnormalize", "show_images")
    train_subset = profile_subset(trainset, settings.profile.train_size)
    grid_loader = DataLoader(train_subset, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(1))
    grid_images, grid_labels = next(iter(grid_loader))
    classes = trainset.classes

    assert torch.equal(lesson["unnormalize"](grid_images), labkit_unnormalize(grid_images))
    ours = drawn(lesson["show_images"](grid_images, grid_labels, classes))
    theirs = drawn(plots.show_images(grid_images, grid_labels, classes))
    assert len(ours) == len(theirs) == len(grid_images)
    for (a, caption_a), (b, caption_b) in zip(ours, theirs):
        assert np.array_equal(a, b)
        assert caption_a == caption_b


def test_make_loaders_builds_the_notebooks_loaders(settings, trainset):
    testset = load_dataset(settings, train=False, transform=tutorial_transform())
    train_subset = profile_subset(trainset, settings.profile.train_size)
    test_subset = profile_subset(testset, settings.profile.test_size)
    batch_size = settings.profile.batch_size
    labkit_train, labkit_test = make_loaders(train_subset, test_subset, batch_size=batch_size, seed=0)
    hand_train = DataLoader(train_subset, batch_size=batch_size, shuffle=True, num_workers=0,
                            generator=torch.Generator().manual_seed(0))
    hand_test = DataLoader(test_subset, batch_size=batch_size, shuffle=False)
    for labkit_loader, hand_loader in [(labkit_train, hand_train), (labkit_test, hand_test)]:
        assert len(labkit_loader) == len(hand_loader)
        for _, (a, b) in zip(range(3), zip(labkit_loader, hand_loader)):
            assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


# Notebook 03

@pytest.mark.parametrize("name", ["Net", "LinearNet"])
def test_models_are_the_notebooks(name):
    lesson = defined_in("03_convolutional_networks.ipynb", name)
    torch.manual_seed(0)
    ours, theirs = lesson[name](num_classes=10), getattr(models, name)(num_classes=10)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    theirs.load_state_dict(ours.state_dict())
    images = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(ours(images), theirs(images), atol=1e-6)


def pixels(fig):
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba()).copy()
    plt.close(fig)
    return rgba


def test_plot_functions_draw_the_notebooks_pixels():
    lesson = defined_in("03_convolutional_networks.ipynb", "plot_filters", "plot_feature_maps")
    torch.manual_seed(0)
    net = models.Net(10)
    maps = F.relu(net.conv1(torch.randn(1, 3, 32, 32)))[0]
    assert np.array_equal(pixels(lesson["plot_filters"](net.conv1.weight)), pixels(plots.plot_filters(net.conv1.weight)))
    assert np.array_equal(pixels(lesson["plot_feature_maps"](maps)), pixels(plots.plot_feature_maps(maps)))
