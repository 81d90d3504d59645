"""The networks the workshop trains."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    """The network of PyTorch's "Training a Classifier" tutorial, unchanged.

    Shapes for one 3x32x32 image: conv1 -> 6x28x28, pool -> 6x14x14,
    conv2 -> 16x10x10, pool -> 16x5x5, flatten -> 400, fc1 -> 120, fc2 -> 84, fc3 -> 10.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except the batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class LinearNet(nn.Module):
    """The baseline: one linear layer from the 3*32*32 pixel values straight to 10 scores."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
