"""The stand-in must be learnable but not trivial: the tutorial's CNN, trained briefly, beats a
linear model trained the same way by a clear margin, and both beat chance (10 %).

Trained with labkit's own `fit` (the loop notebook 05 writes out), on the smoke profile's sizes."""

import pytest
import torch
import torch.nn as nn

from labkit.data import load_synthetic, make_loaders, profile_subset, tutorial_transform
from labkit.models import LinearNet, Net
from labkit.training import fit


@pytest.mark.slow     # trains two models for 3 epochs on 4,000 images: minutes on 2 cores
def test_cnn_beats_linear_model_and_both_beat_chance(stand_in_root):
    t = tutorial_transform()
    train = profile_subset(load_synthetic(stand_in_root, train=True, transform=t), 4000)
    test = profile_subset(load_synthetic(stand_in_root, train=False, transform=t), 1000)
    results = {}
    for model_class in (Net, LinearNet):
        torch.manual_seed(0)                    # the same initial weights on every run
        model = model_class()
        train_loader, test_loader = make_loaders(train, test, batch_size=16)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
        history = fit(model, train_loader, test_loader, nn.CrossEntropyLoss(), optimizer, "cpu",
                      epochs=3, progress=False)
        results[model_class.__name__] = history["test_accuracy"][-1]
    print(f"test accuracy after 3 epochs on 4,000 images: {results}")
    assert results["LinearNet"] > 0.15, results            # above chance (0.10)
    assert results["Net"] > 0.60, results                  # well above chance
    assert results["Net"] - results["LinearNet"] > 0.25, results   # a clear margin
