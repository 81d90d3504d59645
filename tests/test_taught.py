"""labkit computes what the notebooks write out by hand, bit for bit on the CPU.

labkit's docstrings say "as notebook 05 writes it out". Here the notebook's own cells are taken
from the .ipynb, run on a tiny model and data set with the notebook's own names (``net``,
``criterion``, ``optimizer``, ...), and compared with the labkit function that replaces them:

    notebook 04, the learning-rate range test written out   ->  training.lr_range_test
    notebook 05, the tutorial's training loop               ->  training.train_one_epoch
    notebook 05, the tutorial's test loop                   ->  training.evaluate

A cell is found by what its code says (the lines listed in each ``find_cell`` call), not by its
position, so cells may be added or moved around it. If a test cannot find its cell, the lesson
changed: update the markers here, and make labkit match the new cell.
"""

import copy
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def find_cell(notebook: str, *markers: str) -> str:
    """The source of the one code cell of ``notebook`` that contains every marker."""
    cells = json.loads((NOTEBOOKS / notebook).read_text())["cells"]
    found = [("".join(c["source"]) if isinstance(c["source"], list) else c["source"])
             for c in cells if c["cell_type"] == "code"]
    found = [s for s in found if all(m in s for m in markers)]
    assert len(found) == 1, (f"{notebook}: expected one code cell containing {markers}, found "
                             f"{len(found)}. The lesson changed: update tests/test_taught.py.")
    return found[0]


def tiny_sets(n_train=70, n_test=50):
    """Images whose bright row tells the class, with a short last batch at batch size 16."""
    import torch
    from torch.utils.data import TensorDataset
    g = torch.Generator().manual_seed(7)

    def make(n):
        labels = torch.randint(0, 10, (n,), generator=g)
        images = torch.randn(n, 3, 32, 32, generator=g) * 0.5
        images[torch.arange(n), 0, 3 * labels] += 1.0
        return TensorDataset(images, labels)

    return make(n_train), make(n_test)


def run_cell(source: str, names: dict) -> dict:
    exec(compile(source, "<notebook cell>", "exec"), names)
    return names


def test_notebook_05s_training_loop_is_train_one_epoch(capsys):
    import torch
    import torch.nn as nn
    import torch.optim as optim
    from tqdm.auto import tqdm

    from labkit.data import make_loaders
    from labkit.models import Net
    from labkit.training import train_one_epoch

    source = find_cell("05_training_and_evaluation.ipynb",
                       "optimizer.zero_grad()", "loss.backward()", "optimizer.step()", "for epoch in range(")
    train_set, test_set = tiny_sets()
    epochs = 2
    torch.manual_seed(0)
    net = Net()
    ours = copy.deepcopy(net)
    train_loader, _ = make_loaders(train_set, test_set, batch_size=16, seed=0)
    names = {"torch": torch, "nn": nn, "optim": optim, "tqdm": tqdm, "device": torch.device("cpu"),
             "settings": SimpleNamespace(profile=SimpleNamespace(epochs=epochs, batch_size=16)),
             "train_loader": train_loader, "net": net, "criterion": nn.CrossEntropyLoss(),
             "optimizer": optim.SGD(net.parameters(), lr=0.05, momentum=0.9)}
    run_cell(source, names)
    capsys.readouterr()

    our_loader, _ = make_loaders(train_set, test_set, batch_size=16, seed=0)
    our_optimizer = optim.SGD(ours.parameters(), lr=0.05, momentum=0.9)
    for _ in range(epochs):
        train_one_epoch(ours, our_loader, nn.CrossEntropyLoss(), our_optimizer, "cpu", progress=False)
    for (name, a), b in zip(names["net"].named_parameters(), ours.parameters()):
        assert torch.equal(a, b), f"{name}: train_one_epoch differs from notebook 05's loop"
    # Both took the same number of steps: SGD's momentum buffers agree too.
    for p, q in zip(names["net"].parameters(), ours.parameters()):
        assert torch.equal(names["optimizer"].state[p]["momentum_buffer"],
                           our_optimizer.state[q]["momentum_buffer"])


def test_notebook_05s_test_loop_is_evaluate(capsys):
    import torch
    import torch.nn as nn

    from labkit.data import make_loaders
    from labkit.models import Net
    from labkit.training import evaluate

    source = find_cell("05_training_and_evaluation.ipynb", "correct +=", "total +=", "torch.no_grad()")
    train_set, test_set = tiny_sets()
    torch.manual_seed(1)
    net = Net()
    _, test_loader = make_loaders(train_set, test_set, batch_size=16)
    names = run_cell(source, {"torch": torch, "nn": nn, "device": torch.device("cpu"), "net": net,
                              "test_loader": test_loader, "classes": [str(i) for i in range(10)]})
    capsys.readouterr()
    hand = names["correct"] / names["total"]
    assert names["total"] == len(test_set)
    assert evaluate(net, test_loader, "cpu")["accuracy"] == hand, "evaluate() counts another accuracy"


@pytest.mark.slow     # the notebook's own 300 steps, twice
def test_notebook_04s_range_test_is_lr_range_test(capsys):
    import torch
    import torch.nn as nn
    import torch.optim as optim
    from tqdm.auto import tqdm

    from labkit.data import make_loaders
    from labkit.models import Net
    from labkit.training import lr_range_test

    source = find_cell("04_loss_and_optimizer.ipynb", "range_steps", "param_groups", "beta")
    train_set, test_set = tiny_sets(n_train=200)
    classes = [str(i) for i in range(10)]
    names = run_cell(source, {
        "torch": torch, "nn": nn, "optim": optim, "tqdm": tqdm, "math": math, "Net": Net,
        "device": torch.device("cpu"), "classes": classes, "criterion": nn.CrossEntropyLoss(),
        "make_loaders": make_loaders, "train_set": train_set, "test_set": test_set,
        "settings": SimpleNamespace(profile=SimpleNamespace(batch_size=16))})
    capsys.readouterr()
    start_lr, end_lr, steps, beta = (names[k] for k in ("start_lr", "end_lr", "range_steps", "beta"))
    torch.manual_seed(0)
    net = Net(num_classes=len(classes))
    loader, _ = make_loaders(train_set, test_set, batch_size=names["range_loader"].batch_size)
    result = lr_range_test(net, loader, nn.CrossEntropyLoss(), optim.SGD(net.parameters(), lr=start_lr, momentum=0.9),
                           "cpu", start_lr=start_lr, end_lr=end_lr, steps=steps, beta=beta, progress=False)
    assert len(names["range_lrs"]) > 10, "the notebook's range test should take more than a few steps"
    assert result["lr"] == names["range_lrs"]
    assert result["raw_loss"] == names["range_raw"]
    assert result["loss"] == pytest.approx(names["range_smooth"], rel=1e-12, abs=0)
