"""labkit.training: the loop, evaluation, confusion matrix and checkpoints."""

import os

import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from labkit.models import LinearNet, Net
from labkit.settings import LabError
from labkit.training import (confusion_matrix, evaluate, fit, load_checkpoint, new_history,
                             per_class_accuracy, predict, save_checkpoint, train_one_epoch)


def toy_loaders(n=256, seed=0):
    """Noise images with a bright row whose position tells the class: learnable in a few steps."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    images = torch.randn(n, 3, 32, 32, generator=g) * 0.3
    images[torch.arange(n), 0, 3 * labels] += 1.0
    ds = TensorDataset(images, labels)
    return DataLoader(ds, batch_size=32, shuffle=True, generator=g), DataLoader(ds, batch_size=64)


def test_fit_learns_and_records_history():
    torch.manual_seed(0)
    model = LinearNet()
    train_loader, test_loader = toy_loaders()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    history = fit(model, train_loader, test_loader, nn.CrossEntropyLoss(), optimizer, "cpu",
                  epochs=3, progress=False)
    assert history["epoch"] == [1, 2, 3]
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["test_accuracy"][-1] > 0.5
    assert history["batches"] == 3 * len(train_loader)
    # Continuing the history numbers the epochs on.
    fit(model, train_loader, test_loader, nn.CrossEntropyLoss(), optimizer, "cpu", epochs=1,
        history=history, progress=False)
    assert history["epoch"] == [1, 2, 3, 4]


def test_evaluate_and_predict_agree():
    torch.manual_seed(0)
    model = Net()
    _, test_loader = toy_loaders(n=100)
    result = evaluate(model, test_loader, "cpu", nn.CrossEntropyLoss())
    labels, predictions = predict(model, test_loader, "cpu")
    assert result["accuracy"] == pytest.approx((labels == predictions).float().mean().item())
    assert result["loss"] > 0


def test_confusion_matrix_counts():
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    predictions = torch.tensor([0, 1, 1, 2, 0, 2])
    cm = confusion_matrix(labels, predictions, num_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert per_class_accuracy(cm).tolist() == pytest.approx([0.5, 1.0, 2 / 3])


def test_wrong_device_is_named():
    class Meta(nn.Module):  # parameters on the "meta" device stand in for "the GPU"
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3 * 32 * 32, 10, device="meta")

    train_loader, _ = toy_loaders(n=32)
    model = Meta()
    with pytest.raises(LabError, match="Move both to the same device"):
        train_one_epoch(model, train_loader, nn.CrossEntropyLoss(),
                        torch.optim.SGD(model.parameters(), lr=0.1), "cpu", progress=False)


def test_interrupt_keeps_model_and_history():
    torch.manual_seed(0)
    model = LinearNet()
    train_loader, test_loader = toy_loaders()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    calls = {"n": 0}
    real_step = optimizer.step

    def step_then_interrupt(*a, **k):
        calls["n"] += 1
        if calls["n"] == len(train_loader) + 3:   # three batches into epoch 2
            raise KeyboardInterrupt
        return real_step(*a, **k)

    optimizer.step = step_then_interrupt
    history = fit(model, train_loader, test_loader, nn.CrossEntropyLoss(), optimizer, "cpu",
                  epochs=3, progress=False)
    assert history["epoch"] == [1]                # the finished epoch is kept
    assert all(torch.isfinite(p).all() for p in model.parameters())
    optimizer.step = real_step
    fit(model, train_loader, test_loader, nn.CrossEntropyLoss(), optimizer, "cpu", epochs=1,
        history=history, progress=False)
    assert history["epoch"] == [1, 2]


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model, history = Net(), new_history()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    history["epoch"].append(1)
    path = save_checkpoint(tmp_path / "ckpt" / "net.pt", model, optimizer, history)
    other = Net()
    state = load_checkpoint(path, other, torch.optim.SGD(other.parameters(), lr=0.01, momentum=0.9))
    assert state["history"]["epoch"] == [1] and state["model_class"] == "Net"
    for a, b in zip(model.parameters(), other.parameters()):
        assert torch.equal(a, b)
    assert [p.name for p in path.parent.iterdir()] == ["net.pt"]   # no temporary files left


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = Net()
    path = save_checkpoint(tmp_path / "net.pt", model)
    before = path.read_bytes()

    def interrupted_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, Net())
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["net.pt"]


def test_checkpoint_of_another_architecture_is_named(tmp_path):
    path = save_checkpoint(tmp_path / "linear.pt", LinearNet())
    with pytest.raises(LabError) as e:
        load_checkpoint(path, Net())
    assert "holds a LinearNet" in str(e.value) and "does not fit this Net" in str(e.value)


@pytest.mark.parametrize("content", [b"", b"garbage, not a checkpoint"])
def test_corrupt_or_missing_checkpoint_is_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(LabError, match="not a readable checkpoint"):
        load_checkpoint(path, Net())
    with pytest.raises(LabError, match="No checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt", Net())


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = save_checkpoint(tmp_path / "net.pt", Net())
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(LabError, match="not a readable checkpoint"):
        load_checkpoint(path, Net())


def test_small_resnet_shapes_and_width():
    from labkit.models import SmallResNet
    model = SmallResNet(width=8)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert sum(p.numel() for p in SmallResNet(width=64).parameters()) == 6_573_130


def test_whole_pickled_model_is_refused_with_the_reason(tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(Net(), path)          # a whole model, not a state_dict: needs arbitrary unpickling
    with pytest.raises(LabError, match="holds Python objects"):
        load_checkpoint(path, Net())


def test_running_loss_is_recorded_even_for_short_epochs():
    torch.manual_seed(0)
    model = LinearNet()
    train_loader, test_loader = toy_loaders(n=64)       # 2 batches per epoch
    history = fit(model, train_loader, test_loader, nn.CrossEntropyLoss(),
                  torch.optim.SGD(model.parameters(), lr=0.01), "cpu", epochs=2, progress=False)
    assert len(history["step_loss"]) == 4 and history["step"] == [1, 2, 3, 4]
