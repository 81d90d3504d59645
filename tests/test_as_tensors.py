"""as_tensors gives, bit for bit, what the tutorial's per-image transform gives, in either memory
layout and for any chunk size; TensorLoader hands out exactly the rows of its order. No timing is
asserted here (benchmarks/train_speed.py measures the preparation time)."""

import numpy as np
import pytest
import torch
import torchvision.transforms as transforms
from torch.utils.data import Subset

from labkit.data import TensorLoader, as_tensors, profile_subset, tutorial_transform
from labkit.standin import SyntheticCIFAR10

# CIFAR-10's own channel statistics: means and stds that are not powers of two, so every
# rounding step of Normalize shows.
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def per_image(dataset, indices):
    """The tutorial's way: the data set's transform, one image at a time, stacked."""
    return torch.stack([dataset[i][0] for i in indices])


@pytest.fixture(scope="module")
def train_set(small_stand_in):
    return SyntheticCIFAR10(small_stand_in, train=True, transform=tutorial_transform())


def test_every_image_equals_the_per_image_transform_bit_for_bit(train_set):
    images, labels = as_tensors(train_set)
    assert images.shape == (len(train_set), 3, 32, 32) and images.dtype == torch.float32
    assert torch.equal(images, per_image(train_set, range(len(train_set))))
    assert labels.tolist() == list(train_set.targets) and labels.dtype == torch.long


def test_every_byte_value_maps_as_to_tensor_and_normalize_do():
    """All 256 values of a byte, in every channel, with CIFAR-10's statistics."""
    class Bytes:
        data = np.arange(256 * 3, dtype=np.int64).reshape(1, 16, 16, 3).__mod__(256).astype(np.uint8)
        targets = [0]
    reference = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize(CIFAR_MEAN, CIFAR_STD)])
    expected = reference(Bytes.data[0])               # ToTensor takes an HWC uint8 array too
    images, _ = as_tensors(Bytes(), mean=CIFAR_MEAN, std=CIFAR_STD)
    assert torch.equal(images[0], expected)


@pytest.mark.parametrize("chunk", [1, 7, 64, 10_000])
def test_any_chunk_size_gives_the_same_tensor(train_set, chunk):
    reference, _ = as_tensors(train_set)
    images, _ = as_tensors(train_set, chunk=chunk)
    assert torch.equal(images, reference)


def test_channels_last_holds_the_same_values_in_the_other_layout(train_set):
    images, _ = as_tensors(train_set, memory_format=torch.channels_last)
    assert images.is_contiguous(memory_format=torch.channels_last)
    assert not images.is_contiguous()
    assert torch.equal(images, per_image(train_set, range(len(train_set))))


def test_a_subset_in_any_order_and_a_fresh_copy(train_set):
    order = [9, 3, 400, 0, 3]
    images, labels = as_tensors(Subset(train_set, order))
    assert torch.equal(images, per_image(train_set, order))
    assert labels.tolist() == [train_set.targets[i] for i in order]
    images, _ = as_tensors(profile_subset(train_set, 20))
    before = train_set.data.copy()
    images.fill_(0)                                   # the result owns its memory
    assert np.array_equal(train_set.data, before)


def test_tensor_loader_hands_out_the_rows_of_its_order():
    n = 50
    images = torch.randn(n, 3, 4, 4)
    labels = torch.arange(n)
    loader = TensorLoader(images, labels, batch_size=8, shuffle=True, seed=3)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(3))
    batches = list(loader)
    assert len(batches) == len(loader) == 7
    assert torch.equal(torch.cat([y for _, y in batches]), order)
    assert torch.equal(torch.cat([x for x, _ in batches]), images[order])
    in_order = list(TensorLoader(images, labels, batch_size=8))
    assert torch.equal(torch.cat([x for x, _ in in_order]), images)
