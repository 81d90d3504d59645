"""The pace convention (tools/pace.py; README, "For maintainers"), checked on every notebook.

- Sections are `## N. Title`, deep dives `## N. Title (optional)`, then `## Checks` and `## Exercises`.
- Every core numbered section ends with one "In short" cell of at most about 60 words.
- The pace line of the first cell quotes times that tools/pace.py computes from the notebook (words,
  code cells, measured run times): a quoted time below the computed one fails, and so does one far above.
- Every code cell has a measured run time (benchmarks/results/cell-times-quick.json).
- The live editions fit an afternoon: 00–03 at most 60 min, 00–07 at most 180, no notebook above 25.
- The live edition is what the full notebook says, and a core cell that needs a deep dive's name fails
  when the live edition runs (the suite runs every live edition: conftest.py writes them).
"""

import importlib.util
import json
import math
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

spec = importlib.util.spec_from_file_location("pace", ROOT / "tools" / "pace.py")
pace = importlib.util.module_from_spec(spec)
sys.modules["pace"] = pace
spec.loader.exec_module(pace)

LIVE_BUDGET = {"00–03": 60, "00–07": 180, "each": 25}
TOO_HIGH = lambda computed: math.ceil(computed * 1.15) + 1   # noqa: E731  quoted times stay honest upwards too


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def paces():
    return {p.name: pace.pace(p) for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_sections_follow_the_convention(path):
    nb = load(path)
    secs = pace.sections(nb, path.name)          # raises PaceError with the reason
    kinds = [s.kind for s in secs]
    assert kinds[0] == "intro" and "core" in kinds, f"{path.name}: no core section"
    assert "checks" in kinds, f"{path.name}: no '## Checks' section"
    tail = [k for k in kinds if k in ("checks", "exercises")]
    assert tail in (["checks"], ["checks", "exercises"]), f"{path.name}: Checks, then Exercises, end the notebook"
    numbers = [s.number for s in secs if s.number is not None]
    assert numbers == sorted(numbers), f"{path.name}: sections out of order: {numbers}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_core_section_ends_in_short(path):
    nb = load(path)
    for s in pace.sections(nb, path.name):
        if s.kind != "core":
            continue
        cells = [nb["cells"][i] for i in s.cells]
        shorts = [c for c in cells if c["cell_type"] == "markdown"
                  and pace.source(c).lstrip().startswith(pace.IN_SHORT)]
        assert len(shorts) == 1, f"{path.name} §{s.label}: one '{pace.IN_SHORT}' cell, found {len(shorts)}"
        assert cells[-1] is shorts[0], f"{path.name} §{s.label}: the In-short cell is the section's last cell"
        n = pace.words(pace.source(shorts[0]))
        assert n <= pace.IN_SHORT_MAX_WORDS + 5, f"{path.name} §{s.label}: In short has {n} words (about 60 at most)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_code_cell_has_a_measured_run_time(path):
    times = pace.load_cell_times()["notebooks"].get(path.name, {})
    missing = [c.get("id") for c in load(path)["cells"] if pace.is_code(c) and c.get("id") not in times]
    assert not missing, (f"{path.name}: {len(missing)} code cell(s) have no measured run time ({missing[:5]} ...). "
                         f"Run: python tools/time_notebooks.py --profile quick --cells notebooks/{path.name}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_pace_line_quotes_the_computed_times(path, paces):
    p = paces[path.name]
    first = next(pace.source(c) for c in load(path)["cells"] if c["cell_type"] == "markdown")
    m = pace.PACE.search(first)
    assert m, (f"{path.name}: the first Markdown cell needs the pace line, e.g.\n{pace.pace_line(p)}\n"
               f"(python tools/pace.py --write notebooks/{path.name} writes it)")
    assert m["core"] == pace.ranges(p["core_sections"]), f"{path.name}: the core sections are {p['core_sections']}"
    quoted = {"live": (int(m["live"]), p["live"]["minutes"]), "on your own": (int(m["own"]), p["own"]["minutes"])}
    if p["deep_sections"]:
        assert m["deep"] == pace.ranges(p["deep_sections"]), f"{path.name}: the deep dives are {p['deep_sections']}"
        quoted["deep dives"] = (int(m["deep_min"]), p["deep_minutes"])
    else:
        assert m["deep"] is None, f"{path.name}: it has no deep dives"
    for what, (said, computed) in quoted.items():
        assert computed <= said <= TOO_HIGH(computed), (
            f"{path.name}: the pace line says {what} about {said} min; computed {computed:.1f} min. "
            f"Run: python tools/pace.py --write notebooks/{path.name}")


def test_the_live_editions_fit_an_afternoon(paces):
    live = {name[:2]: p["live"]["minutes"] for name, p in paces.items()}
    assert set(live) == {f"{n:02d}" for n in range(8)}, sorted(live)
    first_hour = sum(v for k, v in live.items() if k <= "03")
    assert first_hour <= LIVE_BUDGET["00–03"], f"notebooks 00–03 take {first_hour:.1f} min live: {live}"
    assert sum(live.values()) <= LIVE_BUDGET["00–07"], f"the workshop takes {sum(live.values()):.1f} min live"
    long = {k: v for k, v in live.items() if v > LIVE_BUDGET["each"]}
    assert not long, f"live editions above {LIVE_BUDGET['each']} min: {long}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_live_edition_is_the_core_of_the_full_notebook(path):
    nb = load(path)
    live = pace.live_edition(nb, path.name)
    by_id = {c["id"]: c for c in nb["cells"]}
    secs = pace.sections(nb, path.name)
    optional_ids = {nb["cells"][i]["id"] for s in secs if s.kind == "optional" for i in s.cells}
    core_code = [nb["cells"][i]["id"] for s in secs if s.kind in ("intro", "core", "checks")
                 for i in s.cells if pace.is_code(nb["cells"][i])]
    live_code = [c["id"] for c in live["cells"] if c["cell_type"] == "code"]
    assert live_code == core_code, f"{path.name}: the live edition's code cells are not the core's, in order"
    for c in live["cells"]:
        if c["cell_type"] == "code":
            assert c["source"] == by_id[c["id"]]["source"] and c["id"] not in optional_ids
    text = "\n".join(pace.source(c) for c in live["cells"])
    for s in secs:
        if s.kind == "optional":
            assert f"**{s.number}. {s.title}** (deep dive, about" in text, f"{path.name}: §{s.number} missing"
        elif s.kind == "core":
            assert f"## {s.number}. {s.title}" in text, f"{path.name}: heading of §{s.number} missing"
    assert "../images/" not in re.sub(r"\.\./\.\./images/", "", text), f"{path.name}: a picture link not rewritten"


def test_live_editions_are_ignored_by_git():
    assert "notebooks/live/" in (ROOT / ".gitignore").read_text().splitlines()


def test_counting():
    assert pace.words("## 3. A title\n\nTwo words ![alt text here](x.png) and [a link](y.md).") == 8
    assert pace.words("Text\n\n```python\nx = 1 + 2\n```\n") == 1
    assert pace.ranges([0, 1, 2, 3, 5]) == "0–3 and 5" and pace.ranges([4]) == "4"
    assert pace.ranges([1, 2, 4, 6, 7]) == "1–2, 4 and 6–7"
    cells = [{"cell_type": "markdown", "source": " ".join(["w"] * 130)},
             {"cell_type": "code", "id": "a", "source": "x = 1"},
             {"cell_type": "code", "id": "b", "source": "   "}]
    m = pace.minutes(cells, {"a": 30.0})
    assert (m["words"], m["code_cells"], m["minutes"], m["unmeasured"]) == (130, 1, 2.0, [])


def _tiny_notebook(core_uses_deep_name: bool) -> dict:
    md = lambda text, i: {"cell_type": "markdown", "id": f"m{i}", "metadata": {}, "source": text}  # noqa: E731
    code = lambda text, i: {"cell_type": "code", "id": f"c{i}", "metadata": {}, "source": text,  # noqa: E731
                            "outputs": [], "execution_count": None}
    cells = [md("# 99 · Tiny\n\nA tiny notebook for the test of the live edition.\n\n"
                "**Live: section 1, about 1 min. On your own: about 1 min. Deep dives (optional): section 2, about 1 min.**", 0),
             md("## 1. Core", 1), code("a = 1", 2), md("**In short.** One name.", 3),
             md("## 2. Deep (optional)", 4), code("b = 2", 5),
             md("## Checks", 6), code("assert a == 1" + ("\nassert b == 2" if core_uses_deep_name else ""), 7)]
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


@pytest.mark.parametrize("leaks", [False, True], ids=["core-only", "core-needs-a-deep-dive"])
def test_a_core_cell_that_needs_a_deep_dive_fails_live(tmp_path, leaks):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    full = _tiny_notebook(core_uses_deep_name=leaks)
    client = NotebookClient(nbformat.from_dict(full), timeout=60, kernel_name="python3")
    client.execute()                          # the full notebook runs either way
    live = nbformat.from_dict(pace.live_edition(full, "99_tiny.ipynb"))
    assert [c.source for c in live.cells if c.cell_type == "code"] == ["a = 1", full["cells"][7]["source"]]
    client = NotebookClient(live, timeout=60, kernel_name="python3")
    if leaks:
        with pytest.raises(CellExecutionError, match="NameError"):
            client.execute()
    else:
        client.execute()


def test_write_live_replaces_the_folder(tmp_path):
    (tmp_path / "stale.ipynb").write_text("{}")
    written = pace.write_live(NOTEBOOKS[:1], tmp_path)
    assert [p.name for p in written] == [NOTEBOOKS[0].name]
    assert not (tmp_path / "stale.ipynb").exists() and (tmp_path / "train_ddp.py").exists()
    assert load(written[0])["metadata"]["live_edition"]["source"] == NOTEBOOKS[0].name


def test_every_quoted_time_is_the_computed_one(paces):
    """Notebook 00's map, the README, each lab's Estimated Time (English and French), the instructor
    agenda and the introduction's table quote what tools/pace.py computes (`--quotes` rewrites them)."""
    problems = pace.check_quotes(list(paces.values()))
    assert not problems, "\n".join(problems[:15]) + "\nRun: python tools/pace.py --quotes"
