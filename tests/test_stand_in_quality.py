"""The stand-in must be learnable but not trivial: the tutorial's CNN, trained briefly, beats a
linear model trained the same way by a clear margin, and both beat chance (10 %)."""

import torch
import torch.nn as nn

from labkit.data import SyntheticCIFAR10, make_loaders, profile_subset, tutorial_transform
from labkit.models import LinearNet, Net


def _train_and_test(model, train_loader, test_loader, epochs=3, lr=0.02):
    torch.manual_seed(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        for images, labels in train_loader:
            optimizer.zero_grad()
            loss_fn(model(images), labels).backward()
            optimizer.step()
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in test_loader:
            correct += (model(images).argmax(1) == labels).sum().item()
            total += len(labels)
    return correct / total


def test_cnn_beats_linear_model_and_both_beat_chance(stand_in_root):
    t = tutorial_transform()
    train = profile_subset(SyntheticCIFAR10(stand_in_root, train=True, transform=t), 4000)
    test = profile_subset(SyntheticCIFAR10(stand_in_root, train=False, transform=t), 1000)
    results = {}
    for model_class in (Net, LinearNet):
        torch.manual_seed(0)
        model = model_class()
        train_loader, test_loader = make_loaders(train, test, batch_size=16)
        results[model_class.__name__] = _train_and_test(model, train_loader, test_loader)
    print(f"test accuracy after 3 epochs on 4,000 images: {results}")
    assert results["LinearNet"] > 0.15, results            # above chance (0.10)
    assert results["Net"] > 0.60, results                  # well above chance
    assert results["Net"] - results["LinearNet"] > 0.25, results   # a clear margin
