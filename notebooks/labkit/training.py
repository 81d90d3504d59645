"""Training, evaluation, confusion matrices and checkpoints, as notebook 05 writes them out.

    history = new_history()          # yours: it keeps the finished epochs, even after an interrupt
    fit(model, train_loader, test_loader, loss_fn, optimizer, device, epochs=2, history=history)
    labels, predictions = predict(model, test_loader, device)
    cm = confusion_matrix(labels, predictions, num_classes=10)
    save_checkpoint("checkpoints/net.pt", model, optimizer, history)
"""

from __future__ import annotations

import math
import os
import pickle
import re
import secrets
import time
import zipfile
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .settings import LabError


def new_history() -> dict:
    """An empty training history: one entry per finished epoch, plus the running loss."""
    return {"epoch": [], "train_loss": [], "test_loss": [], "test_accuracy": [],
            "seconds": [], "batches": 0, "step": [], "step_loss": []}


def _check_same_device(model, images, device):
    param = next(model.parameters(), None)
    if param is not None and param.device != images.device:   # cuda:0 and cuda:1 differ too
        raise LabError(
            f"The model is on {param.device} but the images are on {images.device}. "
            f"Move both to the same device: model.to(device) before creating the optimizer, "
            f"and images.to(device) for every batch (device = {device}).")


def train_one_epoch(model, loader, loss_fn, optimizer, device, history=None,
                    log_every: int = 50, progress: bool = True, desc: str = "train") -> float:
    """One pass over the training data. Returns the mean loss of the epoch.

    The loss is added up on the device and read with ``.item()`` only every ``log_every``
    batches, because ``.item()`` makes the CPU wait for the GPU.
    """
    model.train()                                   # layers such as dropout behave as in training
    total = torch.zeros((), device=device)          # sum of the losses, kept on the device
    running = torch.zeros((), device=device)
    seen = 0
    step_base = history["batches"] if history is not None else 0
    bar = tqdm(loader, desc=desc, leave=False, disable=not progress)
    for i, (images, labels) in enumerate(bar, start=1):
        images, labels = images.to(device), labels.to(device)
        if i == 1:
            _check_same_device(model, images, device)
        optimizer.zero_grad()                       # forget the previous batch's gradients
        outputs = model(images)                     # forward: scores, one row per image
        loss = loss_fn(outputs, labels)             # one number: how wrong the scores are
        loss.backward()                             # gradients of the loss for every parameter
        optimizer.step()                            # move each parameter against its gradient
        total += loss.detach() * len(labels)
        running += loss.detach()
        seen += len(labels)
        if i % log_every == 0:
            mean = running.item() / log_every
            running.zero_()
            bar.set_postfix(loss=f"{mean:.3f}")
            if history is not None:
                history["step"].append(step_base + i)    # batches seen since training began
                history["step_loss"].append(mean)
        if history is not None:
            history["batches"] = step_base + i
    return total.item() / max(seen, 1)


@torch.no_grad()
def evaluate(model, loader, device, loss_fn=None) -> dict:
    """Accuracy (and mean loss, if ``loss_fn`` is given) on a data set, without gradients."""
    model.eval()                                    # layers such as dropout behave as in testing
    correct = torch.zeros((), device=device, dtype=torch.long)
    loss_sum = torch.zeros((), device=device)
    count = 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        outputs = model(images)
        correct += (outputs.argmax(dim=1) == labels).sum()
        if loss_fn is not None:
            loss_sum += loss_fn(outputs, labels) * len(labels)
        count += len(labels)
    result = {"accuracy": correct.item() / max(count, 1)}
    if loss_fn is not None:
        result["loss"] = loss_sum.item() / max(count, 1)
    return result


@torch.no_grad()
def predict(model, loader, device):
    """True labels and predicted labels for a whole data set, as CPU tensors."""
    model.eval()
    all_labels, all_predictions = [], []
    for images, labels in loader:
        outputs = model(images.to(device))
        all_labels.append(labels.cpu())
        all_predictions.append(outputs.argmax(dim=1).cpu())
    return torch.cat(all_labels), torch.cat(all_predictions)


def confusion_matrix(labels, predictions, num_classes: int) -> torch.Tensor:
    """Counts: row = true class, column = predicted class."""
    index = labels.to(torch.long) * num_classes + predictions.to(torch.long)
    counts = torch.bincount(index, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def per_class_accuracy(cm: torch.Tensor) -> torch.Tensor:
    """The share of each true class that was predicted correctly (the diagonal over the row sums)."""
    return cm.diag().float() / cm.sum(dim=1).clamp(min=1).float()


def fit(model, train_loader, test_loader, loss_fn, optimizer, device, epochs: int,
        history: dict | None = None, checkpoint_path=None, progress: bool = True,
        log_every: int | None = None) -> dict:
    """Train for ``epochs`` more epochs, testing after each; returns the history.

    Pass a history to keep it whatever happens: ``history = new_history()``, then
    ``fit(..., history=history)``. ``fit`` appends each finished epoch to that same dictionary
    (pass it again to continue). With ``checkpoint_path``, a checkpoint is written (atomically)
    after every epoch. If you interrupt the kernel, the epoch in progress stops, the model keeps
    its latest weights, the finished epochs stay in ``history``, and the KeyboardInterrupt goes
    on, so that Run All stops there too. If a checkpoint cannot be written, a LabError says so
    after the epoch it finished (also kept in ``history``).
    """
    history = new_history() if history is None else history
    if log_every is None:  # about four points of running loss per epoch, at most every 50 batches
        log_every = min(50, max(1, len(train_loader) // 4))
    if checkpoint_path is not None:
        _check_writable(Path(checkpoint_path))          # before the first epoch, not after it
    first = (history["epoch"][-1] + 1) if history["epoch"] else 1
    epoch = first
    try:
        for epoch in range(first, first + epochs):
            start = time.perf_counter()
            train_loss = train_one_epoch(model, train_loader, loss_fn, optimizer, device,
                                         history=history, log_every=log_every,
                                         progress=progress, desc=f"epoch {epoch}")
            result = evaluate(model, test_loader, device, loss_fn)
            history["epoch"].append(epoch)
            history["train_loss"].append(train_loss)
            history["test_loss"].append(result["loss"])
            history["test_accuracy"].append(result["accuracy"])
            history["seconds"].append(time.perf_counter() - start)
            print(f"epoch {epoch}: train loss {train_loss:.3f}, test loss {result['loss']:.3f}, "
                  f"test accuracy {result['accuracy']:.1%}")
            if checkpoint_path is not None:
                save_checkpoint(checkpoint_path, model, optimizer, history)
    except KeyboardInterrupt:
        # An interrupt can fall between two appends: keep only what was recorded in full,
        # both for the finished epochs and for the running loss (step, step_loss).
        keys = ("epoch", "train_loss", "test_loss", "test_accuracy", "seconds")
        done = min(len(history[k]) for k in keys)
        for k in keys:
            del history[k][done:]
        logged = min(len(history["step"]), len(history["step_loss"]))
        del history["step"][logged:], history["step_loss"][logged:]
        print(f"Interrupted during epoch {epoch}. The model keeps its latest weights; the history "
              f"holds {done} finished epoch(s). Call fit(..., history=history) to continue.")
        raise                       # so that the cells queued after this one do not run
    return history


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------

def _check_writable(path: Path) -> None:
    """A clear LabError now if ``path``'s folder cannot be created or written to."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.probe"
        probe.open("xb").close()
        probe.unlink()
    except OSError as e:
        raise LabError(_cannot_write(path, e)) from None


def _cannot_write(path, e: OSError) -> str:
    return (f"Cannot write {path} ({e.strerror or e}). Set LAB_OUTPUT_DIR to a folder you can "
            "write to and that has free space (it holds checkpoints and run logs), then run again.")


def write_atomically(path, data: bytes | None = None, write=None) -> Path:
    """Write a file whole or not at all: into a temporary file in the same folder, then renamed.

    Give the bytes (``data``), or ``write(f)``, a function that writes to the open file. A crash
    or an interrupt never leaves half a file under ``path``: the previous one stays intact. The
    new file gets the usual permissions (0o666 less the umask), as ``open`` gives them. A folder
    that cannot be written to (read-only, full) is a LabError that says what to do.
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as f:              # "x": a new file, never someone else's
            if write is not None:
                write(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_folder(path.parent)              # the rename itself survives a power cut
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise LabError(_cannot_write(path, e)) from None
        raise
    return path


def _fsync_folder(folder: Path) -> None:
    if not hasattr(os, "O_DIRECTORY"):          # Windows: folders cannot be opened like this
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(path, model, optimizer=None, history=None, **extra) -> Path:
    """Save the model's ``state_dict`` (and optimizer, history) to ``path``, atomically.

    The file is written under a temporary name in the same folder and then renamed, so an
    interrupted save never leaves a half-written checkpoint: the previous one stays intact.
    """
    state = {"model": model.state_dict(), "model_class": type(model).__name__, **extra}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if history is not None:
        state["history"] = history
    return write_atomically(path, write=lambda f: torch.save(state, f))


def load_checkpoint(path, model, optimizer=None, device="cpu") -> dict:
    """Load a checkpoint written by ``save_checkpoint`` into ``model`` (and ``optimizer``).

    ``weights_only=True`` only unpickles tensors and plain containers, never arbitrary code.
    Returns the whole checkpoint dictionary (its ``"history"`` included).
    """
    path = Path(path)
    if not path.is_file():
        raise LabError(f"No checkpoint at {path}. Train and save one first (save_checkpoint).")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as e:
        # Ask torch which Python objects the file holds (torch >= 2.6); older releases name the
        # first one in their message ("Unsupported global: GLOBAL labkit.models.Net ...").
        unsafe_globals = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)
        try:
            unsafe = unsafe_globals(path) if unsafe_globals else None
        except Exception:   # not a checkpoint at all: garbage, or cut short
            unsafe = []
        if unsafe is None:
            unsafe = re.findall(r"Unsupported (?:global|class):? (?:GLOBAL )?([\w.]+)", str(e))
        if unsafe:
            raise LabError(
                f"{path} holds Python objects, not only tensors ({', '.join(unsafe[:3])}: for "
                "example a whole model saved with torch.save(model)); torch.load(weights_only=True) "
                "refuses it because loading it could run any code. If you wrote it yourself, load "
                "it once with weights_only=False and save it again with save_checkpoint.") from None
        raise LabError(f"{path} is not a readable checkpoint (truncated or corrupt: {e}). "
                       "Delete it and save the model again.") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as e:
        raise LabError(f"{path} is not a readable checkpoint (truncated or corrupt: {e}). "
                       "Delete it and save the model again.") from None
    if not isinstance(state, dict) or "model" not in state:
        raise LabError(f"{path} is not a checkpoint written by save_checkpoint.")
    saved_class = state.get("model_class", "?")
    # load_state_dict checks every key and shape itself (strict=True) and raises RuntimeError
    # listing the missing, unexpected and mis-shaped ones. It may have copied the tensors that
    # did fit by then, so we keep the current weights to put them back.
    before = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        model.load_state_dict(state["model"], strict=True)
    except RuntimeError as e:
        model.load_state_dict(before)
        raise LabError(f"{path} holds a {saved_class}, which does not fit this "
                       f"{type(model).__name__}: {e}. Load it into a {saved_class}, "
                       "or train and save this model.") from None
    if optimizer is not None and "optimizer" in state:
        try:
            optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as e:
            raise LabError(f"{path} holds the state of an optimizer that does not fit this one "
                           f"({e}). The model's weights were loaded; create the optimizer with the "
                           "same parameter groups as when you saved, or load without optimizer=.") from None
    return state


# --------------------------------------------------------------------------------------------
# Choosing a learning rate (notebook 04) and the most confident mistakes (notebook 05)
# --------------------------------------------------------------------------------------------

def _batches_forever(loader):
    """The loader's batches, epoch after epoch, for as long as they are asked for."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise LabError("The loader gave no batch at all: it has nothing to train on.")


def lr_range_test(model, loader, loss_fn, optimizer, device, start_lr: float = 1e-5,
                  end_lr: float = 1.0, steps: int = 200, beta: float = 0.9,
                  stop_factor: float = 4.0, progress: bool = True) -> dict:
    """The learning-rate range test, as notebook 04 writes it out.

    Trains ``model`` for ``steps`` batches while the learning rate grows exponentially from
    ``start_lr`` to ``end_lr`` (multiplied by the same factor at every step) and records the
    loss of each batch, smoothed with an exponential moving average (``beta``). It stops early
    once the smoothed loss is more than ``stop_factor`` times the lowest one: the loss has blown
    up. The model and the optimizer are changed: give it a fresh copy you can throw away.
    Returns ``{"lr": [...], "loss": [...] (smoothed), "raw_loss": [...]}``.
    """
    if not 0 < start_lr < end_lr:
        raise LabError(f"lr_range_test needs 0 < start_lr < end_lr, got {start_lr} and {end_lr}.")
    if steps < 2:
        raise LabError(f"lr_range_test needs at least 2 steps, got {steps}.")
    factor = (end_lr / start_lr) ** (1 / (steps - 1))     # lr of step k: start_lr * factor**k
    model.train()
    lrs, smoothed, raw = [], [], []
    average, best = 0.0, float("inf")
    bar = tqdm(total=steps, desc="lr range test", leave=False, disable=not progress)
    batches = _batches_forever(loader)
    for k in range(steps):
        lr = start_lr * factor ** k
        for group in optimizer.param_groups:
            group["lr"] = lr
        images, labels = next(batches)
        images, labels = images.to(device), labels.to(device)
        if k == 0:
            _check_same_device(model, images, device)
        optimizer.zero_grad()
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        value = loss.item()                          # needed now: it decides whether to stop
        average = beta * average + (1 - beta) * value
        smooth = average / (1 - beta ** (k + 1))     # corrects the start of the average from 0
        lrs.append(lr)
        raw.append(value)
        smoothed.append(smooth)
        bar.update(1)
        best = min(best, smooth)
        if not math.isfinite(smooth) or smooth > stop_factor * best:
            break                                    # the loss blew up: larger lrs teach nothing
    bar.total = bar.n                                # stopped early on purpose: the bar is complete
    bar.refresh()
    bar.close()
    return {"lr": lrs, "loss": smoothed, "raw_loss": raw}


def suggest_lr(lrs, losses, skip: int = 10) -> dict:
    """Read a range test: the learning rate of the steepest descent, and of the lowest loss.

    ``"steepest"``: where the smoothed loss falls fastest per factor of learning rate (its
    slope against log(lr) is most negative), looking only before the lowest loss and after
    the first ``skip`` points (the moving average is still settling there). ``"minimum"``:
    the learning rate of the lowest loss; one tenth of it is another common choice.
    """
    if len(lrs) != len(losses) or len(lrs) < 3:
        raise LabError("suggest_lr needs matching lists of at least 3 learning rates and losses.")
    lowest = min(range(len(losses)), key=lambda i: losses[i])
    start = min(skip, max(lowest - 2, 0))
    log_lr = [math.log10(lr) for lr in lrs]
    slopes = {i: (losses[i + 1] - losses[i - 1]) / (log_lr[i + 1] - log_lr[i - 1])
              for i in range(max(start, 1), max(lowest, 2))}
    steepest = min(slopes, key=lambda i: slopes[i])
    return {"steepest": lrs[steepest], "steepest_index": steepest,
            "minimum": lrs[lowest], "minimum_index": lowest}


@torch.no_grad()
def per_image_losses(model, loader, device, loss_fn=None) -> dict:
    """Loss, true class, predicted class and the predicted class's probability of every image.

    In the loader's order, as CPU tensors. ``loss_fn`` must give one loss per image
    (``reduction="none"``); the default is ``nn.functional.cross_entropy(..., reduction="none")``.
    """
    model.eval()
    if loss_fn is None:
        loss_fn = lambda outputs, labels: torch.nn.functional.cross_entropy(outputs, labels, reduction="none")  # noqa: E731
    losses, labels_, predictions, probabilities = [], [], [], []
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        outputs = model(images)
        probs = torch.softmax(outputs.float(), dim=1)
        confidence, predicted = probs.max(dim=1)
        losses.append(loss_fn(outputs, labels).float().cpu())
        labels_.append(labels.cpu())
        predictions.append(predicted.cpu())
        probabilities.append(confidence.cpu())
    return {"loss": torch.cat(losses), "label": torch.cat(labels_),
            "prediction": torch.cat(predictions), "probability": torch.cat(probabilities)}


def top_losses(results: dict, k: int = 16, wrong_only: bool = True) -> torch.Tensor:
    """Positions of the ``k`` images with the largest loss (the most confident mistakes first).

    ``results`` is what ``per_image_losses`` returns. With ``wrong_only`` (the default), only
    misclassified images count. Ties keep the loader's order.
    """
    loss = results["loss"]
    candidates = torch.arange(len(loss))
    if wrong_only:
        candidates = candidates[results["prediction"] != results["label"]]
    order = torch.sort(loss[candidates], descending=True, stable=True).indices
    return candidates[order[:k]]


def most_confused(cm: torch.Tensor, k: int = 5) -> list[tuple[int, int, int]]:
    """The ``k`` largest off-diagonal cells of a confusion matrix: (true, predicted, count).

    Largest count first; cells with a count of 0 are left out.
    """
    mistakes = cm.clone()
    mistakes.fill_diagonal_(0)
    n = cm.shape[1]
    values, indices = torch.sort(mistakes.flatten(), descending=True, stable=True)
    pairs: list[tuple[int, int, int]] = []
    for count, index in zip(values.tolist(), indices.tolist()):
        if count == 0 or len(pairs) == k:
            break
        pairs.append((index // n, index % n, count))
    return pairs
