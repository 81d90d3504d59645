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


def conv_bn(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 convolution (padding keeps the size), batch normalisation, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class Residual(nn.Module):
    """Two conv_bn layers whose output is *added* to their input: x + f(x)."""

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(conv_bn(channels, channels), conv_bn(channels, channels))

    def forward(self, x):
        return x + self.block(x)


class SmallResNet(nn.Module):
    """A small residual network for 32x32 images, in the style of the fast CIFAR-10 "ResNet-9".

    Eight convolutions and two residual blocks; ``width`` sets the channels of the first layer
    (64 gives about 6.6 million parameters: a network big enough to keep a GPU busy).
    Shapes for width w: 3x32x32 -> w x32x32 -> 2w x16x16 -> 4w x8x8 -> 8w x4x4 -> 8w -> 10.
    """

    def __init__(self, num_classes: int = 10, width: int = 64):
        super().__init__()
        w = width
        self.layers = nn.Sequential(
            conv_bn(3, w),
            conv_bn(w, 2 * w), nn.MaxPool2d(2),          # 32x32 -> 16x16
            Residual(2 * w),
            conv_bn(2 * w, 4 * w), nn.MaxPool2d(2),      # 16x16 -> 8x8
            conv_bn(4 * w, 8 * w), nn.MaxPool2d(2),      # 8x8 -> 4x4
            Residual(8 * w),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(),       # 8w x 4x4 -> 8w
            nn.Linear(8 * w, num_classes),
        )

    def forward(self, x):
        return self.layers(x)
