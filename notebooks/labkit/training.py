"""Training, evaluation, confusion matrices and checkpoints, as notebook 05 writes them out.

    history = fit(model, train_loader, test_loader, loss_fn, optimizer, device, epochs=2)
    labels, predictions = predict(model, test_loader, device)
    cm = confusion_matrix(labels, predictions, num_classes=10)
    save_checkpoint("checkpoints/net.pt", model, optimizer, history)
"""

from __future__ import annotations

import os
import pickle
import tempfile
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
    if param is not None and param.device.type != images.device.type:
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

    Pass the history of an earlier call to continue it. With ``checkpoint_path``, a checkpoint
    is written (atomically) after every epoch. If you interrupt the kernel, the epoch in progress
    stops, the model keeps its latest weights, and the finished epochs stay in the history.
    """
    history = new_history() if history is None else history
    if log_every is None:  # about four points of running loss per epoch, at most every 50 batches
        log_every = min(50, max(1, len(train_loader) // 4))
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
        # An interrupt can fall between two appends: keep only the epochs recorded in full.
        keys = ("epoch", "train_loss", "test_loss", "test_accuracy", "seconds")
        done = min(len(history[k]) for k in keys)
        for k in keys:
            del history[k][done:]
        print(f"Interrupted during epoch {epoch}. The model keeps its latest weights; the history "
              f"holds {done} finished epoch(s). Call fit(..., history=history) to continue.")
    return history


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------

def save_checkpoint(path, model, optimizer=None, history=None, **extra) -> Path:
    """Save the model's ``state_dict`` (and optimizer, history) to ``path``, atomically.

    The file is written under a temporary name in the same folder and then renamed, so an
    interrupted save never leaves a half-written checkpoint: the previous one stays intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"model": model.state_dict(), "model_class": type(model).__name__, **extra}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if history is not None:
        state["history"] = history
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes owner-only files; use the usual mode
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


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
        if "Unsupported global" in str(e) or "allowed global" in str(e):
            raise LabError(
                f"{path} holds Python objects, not only tensors (for example a whole model saved "
                "with torch.save(model)); torch.load(weights_only=True) refuses it because loading "
                "it could run any code. If you wrote it yourself, load it once with "
                "weights_only=False and save it again with save_checkpoint.") from None
        raise LabError(f"{path} is not a readable checkpoint (truncated or corrupt: {e}). "
                       "Delete it and save the model again.") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as e:
        raise LabError(f"{path} is not a readable checkpoint (truncated or corrupt: {e}). "
                       "Delete it and save the model again.") from None
    if not isinstance(state, dict) or "model" not in state:
        raise LabError(f"{path} is not a checkpoint written by save_checkpoint.")
    saved_class = state.get("model_class", "?")
    own = model.state_dict()
    missing = [k for k in own if k not in state["model"]]
    unexpected = [k for k in state["model"] if k not in own]
    reshaped = [f"{k} {tuple(state['model'][k].shape)} vs {tuple(v.shape)}"
                for k, v in own.items() if k in state["model"] and state["model"][k].shape != v.shape]
    if missing or unexpected or reshaped:
        details = "; ".join(part for part in (
            f"missing {', '.join(missing)}" if missing else "",
            f"unexpected {', '.join(unexpected)}" if unexpected else "",
            f"different shapes {', '.join(reshaped)}" if reshaped else "") if part)
        raise LabError(f"{path} holds a {saved_class}, which does not fit this "
                       f"{type(model).__name__} ({details}). Load it into a {saved_class}, "
                       "or train and save this model.")
    model.load_state_dict(state["model"])
    if optimizer is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    return state
