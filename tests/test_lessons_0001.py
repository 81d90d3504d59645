"""Notebooks 00 and 01: their checks fail when a lesson's claim is false, and labkit.versions is right.

The notebook's code runs in this process: the core sections and the Checks, plus one deep dive at a
time, every other deep dive skipped. Unchanged, every check must pass on its path: so the core path
stands alone, and each deep dive's own check passes after the core path alone.

Each fault then rewrites one line of a lesson so that the claim it teaches no longer holds (a slice
that copies, `from_numpy` that copies, a permute written as a reshape, ...): the faulted cell runs
again, on the namespace of the unchanged run, and the check cell that guards the claim must raise
AssertionError. (Each faulted cell builds the objects it changes afresh, so nothing else is re-run.)
"""

import functools
import json
import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SECTION = re.compile(r"^## (\d+)\. (.+?)\s*$", re.M)
UNNUMBERED = re.compile(r"^## (Checks|Exercises)\s*$", re.M)


def cells_by_section(name: str) -> list[tuple[str, dict]]:
    """(section, cell) for every cell: section is 'core', 'optional N', 'checks' or 'exercises'."""
    nb = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
    where, out = "core", []
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            m, u = SECTION.search(text), UNNUMBERED.search(text)
            if m:
                where = f"optional {m[1]}" if m[2].endswith("(optional)") else "core"
            elif u:
                where = u[1].lower()
        out.append((where, cell))
    return out


def code_of(name: str, cell_id: str) -> str:
    for _, cell in cells_by_section(name):
        if cell["id"] == cell_id:
            return "".join(cell["source"])
    raise AssertionError(f"{name}: no cell with id {cell_id}")


@functools.lru_cache(maxsize=None)
def run(name: str, until: str, deep_dive: str | None = None) -> dict:
    """Execute the core code cells (and those of `deep_dive`) in order, up to and including cell `until`.

    Cached: the tests share one run per path and work on copies of its namespace."""
    cells = cells_by_section(name)
    assert until in [c["id"] for _, c in cells], f"{name}: no cell with id {until}"
    namespace: dict = {"__name__": "__main__"}
    for where, cell in cells:
        keep = where in ("core", "checks") or where == deep_dive
        if cell["cell_type"] != "code" or not keep:
            continue
        exec(compile("".join(cell["source"]), f"{name}:{cell['id']}", "exec"), namespace)   # noqa: S102
        if cell["id"] == until:
            return namespace
    raise AssertionError(f"{name}: cell {until} is not on the path that was run")


# (notebook, check cell, deep dive or None, (cell, line of the lesson, the same line made false), why)
FAULTS = [
    ("01_tensors.ipynb", "ce43deaa", None, ("371482e4", "a = torch.tensor([1, 2, 3])", "a = torch.tensor([1, 2, 3]).float()"),
     "whole numbers become int64"),
    ("01_tensors.ipynb", "ce43deaa", None, ("e8a85a45", "first_row = z[0] ", "first_row = z[0].clone() "),
     "a slice is a view"),
    ("01_tensors.ipynb", "ce43deaa", None, ("d85d5672", "chw = hwc.permute(2, 0, 1)", "chw = hwc.reshape(3, 2, 2)"),
     "permute keeps each pixel's values (reshape does not)"),
    ("01_tensors.ipynb", "ce43deaa", None, ("85918f85", "torch.stack(images, dim=0)", "torch.stack(images[::-1], dim=0)"),
     "stack puts image i at index i"),
    ("01_tensors.ipynb", "ce43deaa", None, ("8abc4f82", "table = column + row", "table = column + row.flip(0)"),
     "(3, 1) + (4,): each row is the column's value plus the row"),
    ("01_tensors.ipynb", "ce43deaa", None,
     ("86da1f45", "img - channel_mean.reshape(3, 1, 1)", "img - channel_mean.mean()"),
     "centring subtracts each channel's own mean"),
    ("01_tensors.ipynb", "ce43deaa", None, ("c457c98e", "loss = (weights * inputs).sum()", "loss = (weights * inputs).sum() * 2"),
     "the gradient of sum(weights * inputs) is the inputs"),
    ("01_tensors.ipynb", "ce43deaa", None, ("e9fcbcb8", "with torch.no_grad():", "with torch.enable_grad():"),
     "no_grad results do not track gradients"),
    ("01_tensors.ipynb", "067bbb4f", "optional 9", ("f1dbc3b3", "y[y > 6] = 0", "y[y >= 6] = 0"),
     "a mask assignment changes exactly the masked elements"),
    ("01_tensors.ipynb", "dfdd2469", "optional 10", ("17eb2076", "shared = torch.from_numpy(array)", "shared = torch.tensor(array)"),
     "from_numpy shares memory"),
    ("01_tensors.ipynb", "767ad7a9", "optional 11", ("a419aead", "    xt.view(12)", "    xt.reshape(12)"),
     "view cannot flatten the transpose"),
    ("01_tensors.ipynb", "fb94ab3f", "optional 12",
     ("9a09c040", "as_float = TF.to_tensor(pil_image)", "as_float = TF.pil_to_tensor(pil_image).float()"),
     "to_tensor divides by 255"),
    ("00_setup_check.ipynb", "8ac0a6fc", None, ("ad7ca414", "c = a @ b\n", "c = a @ b.T\n"),
     "the product computed on the device is a @ b"),
    ("00_setup_check.ipynb", "8ac0a6fc", None,
     ("88299102", "= load_datasets(settings)", "= test_subset, train_subset   # swapped, without loading again"),
     "the training and test sets have the profile's sizes"),
    ("00_setup_check.ipynb", "8ac0a6fc", None,
     ("ad7ca414", "device = pick_device(settings.device)", "device = torch.device('meta')"),
     "the device is the one section 4's rule picks"),
]


def check_cells(name: str) -> list[tuple[str | None, str]]:
    """(deep dive or None, id) of every code cell that asserts: the Checks cell and each deep dive's own."""
    out = []
    for where, cell in cells_by_section(name):
        if cell["cell_type"] == "code" and "assert " in "".join(cell["source"]):
            if where == "checks":
                out.append((None, cell["id"]))
            elif where.startswith("optional"):
                out.append((where, cell["id"]))
    return out


@pytest.mark.parametrize("name", ["00_setup_check.ipynb", "01_tensors.ipynb"])
def test_every_check_passes_on_the_path_it_belongs_to(name):
    checks = check_cells(name)
    assert any(deep is None for deep, _ in checks), f"{name}: no Checks cell"
    for deep, cell_id in checks:
        run(name, cell_id, deep_dive=deep)


def test_every_check_of_01_is_broken_once_below():
    broken = {(name, check) for name, check, *_ in FAULTS}
    for deep, cell_id in check_cells("01_tensors.ipynb"):
        assert ("01_tensors.ipynb", cell_id) in broken, f"01: the check cell {cell_id} ({deep or 'Checks'}) has no fault"


@pytest.mark.parametrize("name, check, deep, fault, claim", FAULTS, ids=[f[0][:2] + ": " + f[4] for f in FAULTS])
def test_check_fails_when_the_claim_is_false(name, check, deep, fault, claim):
    cell_id, line, false_line = fault
    code = code_of(name, cell_id)
    assert line in code, f"{name}: cell {cell_id} no longer holds {line!r}: update the fault"
    namespace = dict(run(name, check, deep_dive=deep))
    exec(compile(code.replace(line, false_line), f"{name}:{cell_id} (faulted)", "exec"), namespace)   # noqa: S102
    with pytest.raises(AssertionError):
        exec(compile(code_of(name, check), f"{name}:{check}", "exec"), namespace)   # noqa: S102


# --------------------------------------------------------------------------------------------
# labkit.versions: notebook 00's version floor
# --------------------------------------------------------------------------------------------

def test_major_minor_reads_the_first_two_numbers():
    from labkit.versions import major_minor

    assert major_minor("2.14.1+cu130") == (2, 14)
    assert major_minor("2.5.1+cpu") == (2, 5)
    assert major_minor("0.20.0") == (0, 20)
    assert major_minor("2.6.0a0+git1234") == (2, 6)
    assert major_minor("2.10.0") > major_minor("2.9.1"), "compared as numbers, not as text"
    with pytest.raises(ValueError):
        major_minor("nightly")


def test_check_versions_stops_below_the_floor():
    from labkit.versions import check_versions, too_old

    assert too_old({"torch": "2.5.0", "torchvision": "0.20.0"}) == []
    assert too_old({"torch": "2.4.1+cpu", "torchvision": "0.20.1"}) == ["torch 2.4.1+cpu (needs 2.5 or newer)"]
    with pytest.raises(RuntimeError, match=r"Too old for this workshop: torchvision 0\.19\.1 \(needs 0\.20 or newer\)"):
        check_versions({"torch": "2.14.1", "torchvision": "0.19.1"})
    assert check_versions({"torch": "2.5.0", "torchvision": "0.20.0"}).startswith("Versions OK")
    assert check_versions().startswith("Versions OK"), "the installed torch and torchvision reach the floor"


def test_the_floor_is_the_one_requirements_states():
    from labkit.versions import FLOORS

    text = (ROOT / "requirements.txt").read_text()
    for name, floor in FLOORS.items():
        m = re.search(rf"^{name}>=(\d+)\.(\d+)\b", text, re.M)
        assert m, f"requirements.txt has no floor for {name}"
        assert (int(m[1]), int(m[2])) == floor, f"labkit.versions says {name} {floor}, requirements.txt {m[0]}"
