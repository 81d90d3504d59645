"""Notebooks are committed clean: no outputs, except on cells whose output nbval checks.

Those cells carry nbval's cell tag `nbval-check-output`; a `# NBVAL_CHECK_OUTPUT` comment (or any
`# NBVAL_...` marker) left in the learner's code is a failure."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("clean_notebooks", ROOT / "tools" / "clean_notebooks.py")
clean_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(clean_notebooks)
CHECK_TAG, clean, problems = clean_notebooks.CHECK_TAG, clean_notebooks.clean, clean_notebooks.problems

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS][:2] == ["00", "01"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    nb = json.loads(path.read_text())
    assert problems(nb) == [], f"run: python tools/clean_notebooks.py ({path.name})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_shows_its_settings_first(path):
    nb = json.loads(path.read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code" and c.get("id") != "cloud-setup"]
    first_lab_cell = next(src for src in code if "settings" in src)     # the first cell that uses the settings
    assert "load_settings()" in first_lab_cell and "summary()" in first_lab_cell


def _code_cell(source, tags=(), outputs=(), count=None):
    return {"cell_type": "code", "metadata": {"tags": list(tags)} if tags else {}, "source": source,
            "outputs": list(outputs), "execution_count": count}


OUTPUT = {"output_type": "stream", "name": "stdout", "text": "4\n"}


def test_a_leftover_comment_marker_fails():
    nb = {"metadata": {}, "cells": [_code_cell("# NBVAL_CHECK_OUTPUT\nprint(2 + 2)", outputs=[OUTPUT], count=1)]}
    found = problems(nb)
    assert any("NBVAL_CHECK_OUTPUT" in p and CHECK_TAG in p for p in found), found
    clean(nb)   # the comment is not a tag: cleaning drops the output, and the marker is still reported
    assert nb["cells"][0]["outputs"] == [] and problems(nb)


def test_a_tagged_cell_keeps_its_output_and_must_have_one():
    nb = {"metadata": {}, "cells": [_code_cell("print(2 + 2)", tags=[CHECK_TAG], outputs=[OUTPUT], count=1),
                                    _code_cell("x = 1", outputs=[OUTPUT], count=2)]}
    clean(nb)
    assert nb["cells"][0]["outputs"] == [OUTPUT] and nb["cells"][0]["execution_count"] == 1
    assert nb["cells"][1]["outputs"] == [] and nb["cells"][1]["execution_count"] is None
    assert problems(nb) == []
    nb["cells"][0]["outputs"] = []
    assert any("no committed output" in p for p in problems(nb))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_test_markers_in_learner_code(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert "NBVAL_" not in "".join(cell["source"]), f"{path.name} cell {i}: use nbval's cell tags"
