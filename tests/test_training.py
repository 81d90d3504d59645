"""labkit.training: the loop, evaluation, confusion matrix and checkpoints."""

import os

import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from labkit.models import LinearNet, Net
from labkit.plots import plot_history
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
    snapshot = {}

    def step_then_interrupt(*a, **k):
        calls["n"] += 1
        if calls["n"] == len(train_loader) + 3:   # three batches into epoch 2
            snapshot.update({k: v.clone() for k, v in model.state_dict().items()})
            raise KeyboardInterrupt
        return real_step(*a, **k)

    optimizer.step = step_then_interrupt
    start = {k: v.clone() for k, v in model.state_dict().items()}
    history = new_history()
    with pytest.raises(KeyboardInterrupt):        # it goes on: Run All stops at this cell
        fit(model, train_loader, test_loader, nn.CrossEntropyLoss(), optimizer, "cpu",
            epochs=3, progress=False, history=history)
    assert history["epoch"] == [1]                # the finished epoch is kept
    # The model keeps the weights it had when the interrupt came: nothing undone, nothing reset.
    assert all(torch.equal(v, snapshot[k]) for k, v in model.state_dict().items())
    assert not all(torch.equal(v, start[k]) for k, v in model.state_dict().items())
    optimizer.step = real_step
    fit(model, train_loader, test_loader, nn.CrossEntropyLoss(), optimizer, "cpu", epochs=1,
        history=history, progress=False)
    assert history["epoch"] == [1, 2]


@pytest.mark.parametrize("where", ["between the epoch appends", "between the running-loss appends"])
def test_an_interrupt_between_two_appends_leaves_a_consistent_history(monkeypatch, where):
    """The interrupt falls after one list of a pair was appended to and before the other."""
    train_loader, test_loader = toy_loaders()
    model = LinearNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    class InterruptingList(list):
        def append(self, value):
            super().append(value)
            raise KeyboardInterrupt

    history = new_history()
    if where == "between the epoch appends":
        history["epoch"] = InterruptingList()        # epoch appended, train_loss not yet
    else:
        history["step"] = InterruptingList()         # step appended, step_loss not yet
    with pytest.raises(KeyboardInterrupt):
        fit(model, train_loader, test_loader, nn.CrossEntropyLoss(), optimizer, "cpu", epochs=2,
            history=history, progress=False, log_every=1)
    epoch_keys = ("epoch", "train_loss", "test_loss", "test_accuracy", "seconds")
    assert len({len(history[k]) for k in epoch_keys}) == 1
    assert len(history["step"]) == len(history["step_loss"])
    plot_history(history)                             # draws without a shape error


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model, history = Net(), new_history()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images, labels = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    nn.CrossEntropyLoss()(model(images), labels).backward()
    optimizer.step()                                 # now SGD holds a momentum buffer per parameter
    history["epoch"].append(1)
    path = save_checkpoint(tmp_path / "ckpt" / "net.pt", model, optimizer, history)
    other = Net()
    other_optimizer = torch.optim.SGD(other.parameters(), lr=0.01, momentum=0.9)
    state = load_checkpoint(path, other, other_optimizer)
    assert state["history"]["epoch"] == [1] and state["model_class"] == "Net"
    for a, b in zip(model.parameters(), other.parameters()):
        assert torch.equal(a, b)
    buffers = [optimizer.state[p]["momentum_buffer"] for p in model.parameters()]
    loaded = [other_optimizer.state[p]["momentum_buffer"] for p in other.parameters()]
    assert len(loaded) == len(buffers) and all(torch.equal(a, b) for a, b in zip(buffers, loaded))
    assert [p.name for p in path.parent.iterdir()] == ["net.pt"]   # no temporary files left


def test_an_optimizer_that_does_not_fit_is_a_clear_error(tmp_path):
    model = Net()
    path = save_checkpoint(tmp_path / "net.pt", model, torch.optim.SGD(model.parameters(), lr=0.1))
    other = Net()
    one_group = torch.optim.SGD([next(other.parameters())], lr=0.1)    # 1 parameter, not 10
    with pytest.raises(LabError, match="optimizer that does not fit"):
        load_checkpoint(path, other, one_group)


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


# ----------------------------------------------------------------------------------------------
# The learning-rate range test, top losses, most-confused pairs, and honest progress bars
# (notebooks 04 and 05)
# ----------------------------------------------------------------------------------------------

def test_lr_range_test_grows_the_lr_exponentially_and_stops_when_the_loss_blows_up():
    from labkit.training import lr_range_test
    torch.manual_seed(0)
    model = Net()
    train_loader, _ = toy_loaders()                      # 8 batches: the test cycles through them
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)
    result = lr_range_test(model, train_loader, nn.CrossEntropyLoss(), optimizer, "cpu",
                           start_lr=1e-4, end_lr=10.0, steps=60, progress=False)
    lrs = result["lr"]
    assert lrs[0] == pytest.approx(1e-4)
    ratios = [b / a for a, b in zip(lrs, lrs[1:])]
    assert all(r == pytest.approx(ratios[0]) for r in ratios), "the lr grows by the same factor each step"
    assert ratios[0] == pytest.approx((10.0 / 1e-4) ** (1 / 59))
    assert len(result["loss"]) == len(result["raw_loss"]) == len(lrs)
    # lr 10 with momentum blows the loss up: the test stops before its last step.
    assert len(lrs) < 60 and max(result["loss"]) > 4 * min(result["loss"])


def test_suggest_lr_finds_the_steepest_descent_before_the_minimum():
    import math

    from labkit.training import suggest_lr
    lrs = [10 ** (-5 + k * 0.1) for k in range(51)]      # 1e-5 .. 1
    # Flat, then falling fastest around lr 1e-2 (k = 30), lowest at 1e-1 (k = 40), then rising.
    losses = [2.3 - 1.0 / (1 + math.exp(-(k - 30) / 2)) + (0.05 * (k - 40) ** 2 if k > 40 else 0)
              for k in range(51)]
    s = suggest_lr(lrs, losses)
    assert s["minimum_index"] == min(range(51), key=lambda k: losses[k])
    assert s["steepest_index"] == 30 and s["steepest"] == pytest.approx(1e-2)
    assert s["steepest_index"] < s["minimum_index"]
    with pytest.raises(LabError):
        suggest_lr([1e-3, 1e-2], [2.0, 1.0])


def test_top_losses_are_the_most_confident_mistakes_first():
    from labkit.training import per_image_losses, top_losses

    class Fixed(nn.Module):
        """Returns the logits stored for each image (the image's first pixel is its index)."""
        def __init__(self, logits):
            super().__init__()
            self.logits = logits
            self.dummy = nn.Parameter(torch.zeros(()))

        def forward(self, x):
            return self.logits[x[:, 0, 0, 0].long()] + 0 * self.dummy

    logits = torch.tensor([[5.0, 0.0],    # right, confident
                           [0.0, 1.0],    # wrong (true 0), a little
                           [0.0, 6.0],    # wrong (true 0), very confident
                           [2.0, 0.0],    # wrong (true 1)
                           [0.0, 0.5]])   # right, unsure
    labels = torch.tensor([0, 0, 0, 1, 1])
    images = torch.arange(5.0).view(5, 1, 1, 1).expand(5, 3, 2, 2).contiguous()
    loader = DataLoader(TensorDataset(images, labels), batch_size=2)
    results = per_image_losses(Fixed(logits), loader, "cpu")
    expected = nn.functional.cross_entropy(logits, labels, reduction="none")
    assert torch.allclose(results["loss"], expected)
    assert results["prediction"].tolist() == [0, 1, 1, 0, 1]
    assert torch.allclose(results["probability"], torch.softmax(logits, 1).max(1).values)
    assert top_losses(results, k=2).tolist() == [2, 3]
    assert top_losses(results, k=10).tolist() == [2, 3, 1]           # only the 3 mistakes
    assert top_losses(results, k=10, wrong_only=False).tolist()[:1] == [2]


def test_most_confused_lists_the_largest_off_diagonal_cells():
    from labkit.training import most_confused
    cm = torch.tensor([[9, 4, 0],
                       [1, 7, 0],
                       [6, 0, 8]])
    assert most_confused(cm, k=2) == [(2, 0, 6), (0, 1, 4)]
    assert most_confused(cm, k=10) == [(2, 0, 6), (0, 1, 4), (1, 0, 1)]   # zeros left out
    assert cm[2, 2] == 8, "the confusion matrix itself is not changed"


def _recording_tqdm(monkeypatch, module):
    """Replace ``module.tqdm`` by a tqdm that records (n, total) of every bar when it closes."""
    from tqdm import tqdm as std_tqdm
    closed = []

    class Recording(std_tqdm):
        def close(self):
            if not getattr(self, "_recorded", False):
                self._recorded = True
                closed.append((self.n, self.total))
            super().close()

    monkeypatch.setattr(module, "tqdm", Recording)
    return closed


def test_progress_bars_end_complete_when_nothing_went_wrong(monkeypatch):
    # tqdm's notebook bar turns red when it closes with n < total (its sign of an interruption):
    # a run that finished, or stopped early on purpose, must close its bars complete.
    import labkit.training as training
    closed = _recording_tqdm(monkeypatch, training)
    torch.manual_seed(0)
    model = LinearNet()
    train_loader, test_loader = toy_loaders(n=128)
    fit(model, train_loader, test_loader, nn.CrossEntropyLoss(),
        torch.optim.SGD(model.parameters(), lr=0.01), "cpu", epochs=2)
    assert len(closed) == 2 and all(n == total for n, total in closed), closed

    closed.clear()
    torch.manual_seed(0)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)
    result = training.lr_range_test(model, train_loader, nn.CrossEntropyLoss(), optimizer, "cpu",
                                    start_lr=1e-3, end_lr=100.0, steps=80)
    assert len(result["lr"]) < 80, "this range test should stop early"
    assert closed == [(len(result["lr"]), len(result["lr"]))], closed


def test_an_interrupted_epoch_leaves_its_bar_incomplete(monkeypatch):
    # The one bar that should look interrupted: the epoch that was interrupted.
    import labkit.training as training
    closed = _recording_tqdm(monkeypatch, training)
    train_loader, _ = toy_loaders(n=128)                 # 4 batches

    def interrupted():
        for i, batch in enumerate(train_loader):
            if i == 2:
                raise KeyboardInterrupt
            yield batch

    class Sized:
        def __len__(self):
            return len(train_loader)

        def __iter__(self):
            return interrupted()

    model = LinearNet()
    with pytest.raises(KeyboardInterrupt):
        training.train_one_epoch(model, Sized(), nn.CrossEntropyLoss(),
                                 torch.optim.SGD(model.parameters(), lr=0.01), "cpu")
    import gc
    gc.collect()
    assert closed and closed[0][0] < closed[0][1], closed


# ----------------------------------------------------------------------------------------------
# What the loop computes, stated exactly (each test fails if one line of the loop changes).
# ----------------------------------------------------------------------------------------------

def _short_last_batch_loader(n=70, batch_size=32, seed=1, shuffle=True):
    """70 images in batches of 32, 32 and 6: a short last batch makes every mean visible."""
    g = torch.Generator().manual_seed(123)
    labels = torch.randint(0, 10, (n,), generator=g)
    images = torch.randn(n, 3, 32, 32, generator=g)
    images[torch.arange(n), 0, 3 * labels] += 1.0
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(seed))


def _hand_trained(model, loader, loss_fn, optimizer):
    """The loop notebook 05 writes out, with the loss and size of every batch recorded.

    Through tqdm.auto's bar, as notebook 05 and train_one_epoch do: that bar makes one iterator
    of the loader when it is created, which draws from a seeded loader's generator, so a loop
    without it would see the batches in another order.
    """
    from tqdm.auto import tqdm
    model.train()
    record = []
    for images, labels in tqdm(loader, disable=True):
        optimizer.zero_grad()
        outputs = model(images)
        loss = loss_fn(outputs, labels)
        loss.backward()
        optimizer.step()
        record.append((loss.item(), len(labels)))
    return record


def _two_copies(make=Net):
    import copy
    torch.manual_seed(0)
    a = make()
    return a, copy.deepcopy(a)


def test_train_one_epoch_is_the_hand_written_loop_bit_for_bit():
    """Same seed, same batches, same steps: every weight equal bit for bit (zero_grad included:
    without it the gradients of earlier batches would add up and the weights would differ)."""
    hand, ours = _two_copies()
    loss_fn = nn.CrossEntropyLoss()
    opt_hand = torch.optim.SGD(hand.parameters(), lr=0.05, momentum=0.9)
    opt_ours = torch.optim.SGD(ours.parameters(), lr=0.05, momentum=0.9)
    for _ in range(2):                                  # two epochs: the state carries over
        record = _hand_trained(hand, _short_last_batch_loader(), loss_fn, opt_hand)
        mean = train_one_epoch(ours, _short_last_batch_loader(), loss_fn, opt_ours, "cpu",
                               progress=False)
        for (name, a), b in zip(hand.named_parameters(), ours.parameters()):
            assert torch.equal(a, b), f"{name} differs from the hand-written loop's"
        # The epoch's loss is the mean over images: each batch's mean loss weighted by its size.
        weighted = sum(loss * n for loss, n in record) / sum(n for _, n in record)
        unweighted = sum(loss for loss, _ in record) / len(record)
        assert mean == pytest.approx(weighted, rel=1e-6)
        assert abs(weighted - unweighted) > 1e-4, "the test data should tell the two means apart"


def test_each_batch_starts_from_fresh_gradients():
    """After train_one_epoch, the gradients held are those of the last batch alone."""
    torch.manual_seed(0)
    model = LinearNet()
    loader = _short_last_batch_loader(shuffle=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)     # lr 0: the weights stay put
    train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, "cpu", progress=False)
    images, labels = list(loader)[-1]
    check = LinearNet()
    check.load_state_dict(model.state_dict())
    nn.CrossEntropyLoss()(check(images), labels).backward()
    assert torch.allclose(model.fc.weight.grad, check.fc.weight.grad, atol=1e-7)


def test_the_running_loss_is_the_mean_of_the_last_log_every_batches():
    hand, ours = _two_copies(LinearNet)
    loss_fn = nn.CrossEntropyLoss()
    record = _hand_trained(hand, _short_last_batch_loader(n=160), loss_fn,
                           torch.optim.SGD(hand.parameters(), lr=0.01))
    history = new_history()
    train_one_epoch(ours, _short_last_batch_loader(n=160), loss_fn,
                    torch.optim.SGD(ours.parameters(), lr=0.01), "cpu", history=history,
                    log_every=2, progress=False)
    losses = [loss for loss, _ in record]                     # 5 batches -> points after 2 and 4
    assert history["step"] == [2, 4] and history["batches"] == 5
    assert history["step_loss"] == pytest.approx([sum(losses[0:2]) / 2, sum(losses[2:4]) / 2],
                                                  rel=1e-6)


def test_evaluate_is_the_loss_and_accuracy_over_the_whole_set():
    torch.manual_seed(0)
    model = Net()
    loader = _short_last_batch_loader(shuffle=False)
    images = torch.cat([x for x, _ in loader])
    labels = torch.cat([y for _, y in loader])
    model.eval()
    with torch.no_grad():
        outputs = model(images)
    result = evaluate(model, loader, "cpu", nn.CrossEntropyLoss())
    # The mean over all 70 images, not the mean of the three batch means.
    assert result["loss"] == pytest.approx(nn.functional.cross_entropy(outputs, labels).item(),
                                           rel=1e-5)
    assert result["accuracy"] == (outputs.argmax(1) == labels).sum().item() / 70
    assert "loss" not in evaluate(model, loader, "cpu")
    predicted_labels, predictions = predict(model, loader, "cpu")
    assert torch.equal(predicted_labels, labels) and torch.equal(predictions, outputs.argmax(1))


@pytest.mark.parametrize("function", ["evaluate", "predict", "per_image_losses"])
def test_testing_puts_the_model_in_eval_mode(function):
    """BatchNorm's running statistics must not move while testing, and its output must be
    the evaluation-mode one (the running statistics, not the batch's)."""
    import labkit.training as training
    from labkit.models import SmallResNet
    torch.manual_seed(0)
    model = SmallResNet(width=4)
    model.train()
    loader = _short_last_batch_loader(shuffle=False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    args = (model, loader, "cpu") + ((nn.CrossEntropyLoss(),) if function == "evaluate" else ())
    getattr(training, function)(*args)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), f"{function} changed {k}: it ran in training mode"
    assert not model.training


def test_fit_is_train_one_epoch_then_evaluate_per_epoch(tmp_path):
    hand, ours = _two_copies()
    loss_fn = nn.CrossEntropyLoss()
    opt_hand = torch.optim.SGD(hand.parameters(), lr=0.05, momentum=0.9)
    opt_ours = torch.optim.SGD(ours.parameters(), lr=0.05, momentum=0.9)
    train_loader, test_loader = _short_last_batch_loader(seed=5), _short_last_batch_loader(shuffle=False)
    expected = []
    train_loader_hand = _short_last_batch_loader(seed=5)
    for _ in range(2):
        loss = train_one_epoch(hand, train_loader_hand, loss_fn, opt_hand, "cpu", progress=False)
        expected.append((loss, evaluate(hand, test_loader, "cpu", loss_fn)))
    history = fit(ours, train_loader, test_loader, loss_fn, opt_ours, "cpu", epochs=2,
                  progress=False, checkpoint_path=tmp_path / "net.pt")
    assert history["train_loss"] == [loss for loss, _ in expected]
    assert history["test_loss"] == [r["loss"] for _, r in expected]
    assert history["test_accuracy"] == [r["accuracy"] for _, r in expected]
    assert len(history["seconds"]) == 2 and all(s > 0 for s in history["seconds"])
    for a, b in zip(hand.parameters(), ours.parameters()):
        assert torch.equal(a, b)
    # The checkpoint written after the last epoch holds the final weights and the whole history.
    other = Net()
    state = load_checkpoint(tmp_path / "net.pt", other)
    assert state["history"]["epoch"] == [1, 2]
    assert all(torch.equal(a, b) for a, b in zip(other.parameters(), ours.parameters()))


def test_fit_logs_about_four_running_losses_per_epoch():
    torch.manual_seed(0)
    model = LinearNet()
    loader = _short_last_batch_loader(n=320, batch_size=16)       # 20 batches -> every 5
    history = fit(model, loader, loader, nn.CrossEntropyLoss(),
                  torch.optim.SGD(model.parameters(), lr=0.01), "cpu", epochs=1, progress=False)
    assert history["step"] == [5, 10, 15, 20]


def test_a_checkpoint_that_does_not_fit_leaves_the_model_as_it_was(tmp_path):
    """Net(10) into Net(5): torch copies the tensors that fit before it raises; we put them back."""
    torch.manual_seed(0)
    path = save_checkpoint(tmp_path / "net10.pt", Net(num_classes=10))
    model = Net(num_classes=5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(LabError, match="does not fit"):
        load_checkpoint(path, model)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), f"a failed load changed {k}"


def test_a_checkpoint_keeps_every_weight_and_buffer(tmp_path):
    from labkit.models import SmallResNet
    torch.manual_seed(0)
    model = SmallResNet(width=4)
    model(torch.randn(4, 3, 32, 32))                 # training mode: BatchNorm statistics move
    path = save_checkpoint(tmp_path / "r.pt", model, extra_note="kept")
    other = SmallResNet(width=4)
    state = load_checkpoint(path, other)
    assert state["extra_note"] == "kept" and state["model_class"] == "SmallResNet"
    for (k, a), b in zip(model.state_dict().items(), other.state_dict().values()):
        assert torch.equal(a, b), k


def test_the_range_test_smooths_with_a_bias_corrected_average_and_runs_on_a_benign_problem():
    from labkit.training import lr_range_test
    torch.manual_seed(0)
    model = LinearNet()
    loader, _ = toy_loaders()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    result = lr_range_test(model, loader, nn.CrossEntropyLoss(), optimizer, "cpu",
                           start_lr=1e-5, end_lr=1e-2, steps=60, progress=False)
    assert len(result["lr"]) == 60, "lr 1e-5..1e-2 on an easy problem: nothing blows up"
    assert result["lr"][-1] == pytest.approx(1e-2)
    average = 0.0
    for k, (raw, smooth) in enumerate(zip(result["raw_loss"], result["loss"])):
        average = 0.9 * average + 0.1 * raw
        assert smooth == pytest.approx(average / (1 - 0.9 ** (k + 1)), rel=1e-9), k
    assert result["loss"][0] == pytest.approx(result["raw_loss"][0])   # corrected from 0


def test_the_range_test_sets_each_steps_lr_before_the_step():
    from labkit.training import lr_range_test
    w = nn.Parameter(torch.zeros(1))

    class One(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = w

        def forward(self, x):
            return x[:, :2] * 0 + self.w

    seen = []
    optimizer = torch.optim.SGD([w], lr=0.0)
    real_step = optimizer.step

    def step(*a, **k):
        seen.append(optimizer.param_groups[0]["lr"])
        return real_step(*a, **k)

    optimizer.step = step
    loader = DataLoader(TensorDataset(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)), batch_size=2)
    result = lr_range_test(One(), loader, nn.CrossEntropyLoss(), optimizer, "cpu",
                           start_lr=0.1, end_lr=0.4, steps=3, progress=False)
    assert seen == pytest.approx([0.1, 0.2, 0.4]) == result["lr"]


def test_per_class_accuracy_is_the_diagonal_over_the_true_counts():
    cm = torch.tensor([[3, 1, 0],      # true class 0: 3 of 4 right
                       [0, 0, 0],      # true class 1: never seen -> 0, not a division by zero
                       [2, 2, 6]])     # true class 2: 6 of 10
    assert per_class_accuracy(cm).tolist() == pytest.approx([0.75, 0.0, 0.6])
    labels = torch.tensor([0, 0, 0, 0, 2, 2])
    predictions = torch.tensor([0, 0, 0, 1, 0, 2])
    assert confusion_matrix(labels, predictions, 3)[0, 1] == 1     # row = true, column = predicted
    assert confusion_matrix(labels, predictions, 3)[1, 0] == 0
    assert confusion_matrix(labels, predictions, 3).sum() == 6


# ----------------------------------------------------------------------------------------------
# An output folder that cannot be written to, a full disk: one message, the epochs kept
# ----------------------------------------------------------------------------------------------

def test_an_unwritable_checkpoint_folder_is_refused_before_the_first_epoch(tmp_path, capsys):
    blocker = tmp_path / "outputs"
    blocker.write_text("a file where the folder should be")    # mkdir fails, as on a read-only disk
    model = LinearNet()
    train_loader, test_loader = toy_loaders(n=64)
    with pytest.raises(LabError, match="Cannot write .*Set LAB_OUTPUT_DIR to a folder you can write"):
        fit(model, train_loader, test_loader, nn.CrossEntropyLoss(),
            torch.optim.SGD(model.parameters(), lr=0.01), "cpu", epochs=1, progress=False,
            checkpoint_path=blocker / "checkpoints" / "net.pt")
    assert "epoch 1:" not in capsys.readouterr().out, "it should fail before training, not after"


def test_a_full_disk_during_a_save_is_one_message_and_the_finished_epochs_stay(tmp_path, monkeypatch):
    import errno
    model = LinearNet()
    train_loader, test_loader = toy_loaders(n=64)
    real_save, saves = torch.save, []

    def save_then_fill_the_disk(obj, f, *args, **kwargs):
        saves.append(1)
        if len(saves) == 2:
            f.write(b"part of a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_then_fill_the_disk)
    history = new_history()
    path = tmp_path / "net.pt"
    with pytest.raises(LabError) as e:
        fit(model, train_loader, test_loader, nn.CrossEntropyLoss(),
            torch.optim.SGD(model.parameters(), lr=0.01), "cpu", epochs=3, progress=False,
            history=history, checkpoint_path=path)
    assert "No space left on device" in str(e.value) and "LAB_OUTPUT_DIR" in str(e.value)
    assert history["epoch"] == [1, 2], "the finished epochs stay in the history passed in"
    monkeypatch.setattr(torch, "save", real_save)
    assert load_checkpoint(path, LinearNet())["history"]["epoch"] == [1]   # the last good one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.pt"], "no temporary file left"


def test_checkpoints_get_the_usual_permissions_without_touching_the_umask(tmp_path, monkeypatch):
    old = os.umask(0o027)
    try:
        def no_umask(*args):
            raise AssertionError("save_checkpoint must not change the process-wide umask")

        monkeypatch.setattr(os, "umask", no_umask)
        path = save_checkpoint(tmp_path / "net.pt", LinearNet())
    finally:
        monkeypatch.undo()
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640


def test_small_files_are_written_whole_or_not_at_all(tmp_path):
    from labkit.training import write_atomically
    path = write_atomically(tmp_path / "runs" / "result.json", b"first")
    assert path.read_bytes() == b"first"

    def half_then_interrupt(f):
        f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, write=half_then_interrupt)
    assert path.read_bytes() == b"first" and [p.name for p in path.parent.iterdir()] == ["result.json"]
