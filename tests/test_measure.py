"""labkit.measure: sentences that follow the numbers, the load warning, fixed thread counts; and a
scan of every notebook for ratio formats that round 0.51 to "0x" or "1x"."""

import json
import re
from pathlib import Path

import pytest
import torch

from labkit import measure
from labkit.measure import compare, fixed_threads, load_warning, significant, summarize

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LABKIT = sorted((ROOT / "notebooks" / "labkit").glob("*.py"))

# Formats that print a ratio with no decimals next to "x", "×" or "times": 0.51 becomes "1x"
# and 0.49 "0x". And round()/int() of a ratio, which do the same.
RATIO_FORMATS = [
    re.compile(r":[,_]?\.0f\}\s*(x\b|×|times\b)"),
    re.compile(r"\b(round|int)\(\s*[^(),]*\b(ratio|speedup|speed_up|factor)\w*\s*\)"),
    re.compile(r"\bround\(\s*[^(),]+/[^(),]+\)"),
]


def code_cells(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            yield index, "".join(cell["source"])


def bad_ratio_formats(text):
    return [line.strip() for line in text.splitlines()
            if any(pattern.search(line) for pattern in RATIO_FORMATS)]


@pytest.mark.parametrize("line", [
    'print(f"{a / b:.0f}x faster")',
    'print(f"{a / b:,.0f}x the work")',
    'print(f"{ratio:.0f}× faster")',
    'print(f"took {a / b:.0f} times as long")',
    'print(round(ratio), "x")',
    'speed = round(fast / slow)',
    'print(int(speedup), "times")',
])
def test_the_scan_finds_rounding_ratio_formats(line):
    assert bad_ratio_formats(line) == [line]


@pytest.mark.parametrize("line", [
    'print(f"{a / b:.2g}x faster")',
    'print(f"{seconds:.1f} s")',
    'print(f"{images:,.0f} images/s")',
    'print(round(loss, 3))',
    'print(compare("A", a, "B", b))',
])
def test_the_scan_leaves_good_formats_alone(line):
    assert bad_ratio_formats(line) == []


@pytest.mark.parametrize("path", NOTEBOOKS + LABKIT, ids=lambda p: p.name)
def test_no_ratio_format_can_print_0x_or_1x(path):
    if path.suffix == ".ipynb":
        found = [f"cell {i}: {line}" for i, text in code_cells(path) for line in bad_ratio_formats(text)]
    else:
        found = bad_ratio_formats(path.read_text(encoding="utf-8"))
    assert not found, ("these print 0.51 as '1x' (and 0.49 as '0x'); use labkit.measure.compare "
                       "or a :.2g format:\n" + "\n".join(found))


def test_significant_figures():
    assert significant(3.4567) == "3.5"
    assert significant(0.5123) == "0.51"
    assert significant(123.4) == "120"
    assert significant(12.34) == "12"
    assert significant(1.0) == "1.0"
    assert significant(0.0456) == "0.046"
    assert significant(2.0, 3) == "2.00"


def test_direction_sets_the_verb():
    assert compare("A", 340, "B", 100) == "A is 3.4 times as fast as B (340 vs 100 images/s)."
    assert compare("A", 125, "B", 100) == "A is 25 % faster than B (125 vs 100 images/s)."
    assert compare("A", 75, "B", 100) == "A is 25 % slower than B (75 vs 100 images/s)."
    assert compare("A", 100, "B", 340) == ("A is slower than B: B is 3.4 times as fast "
                                           "(100 vs 340 images/s).")


def test_lower_is_better_for_times():
    # 1 s against 3.4 s: A takes less time, so A is the faster one.
    assert compare("A", 1.0, "B", 3.4, unit="s", higher_is_better=False) == \
        "A is 3.4 times as fast as B (1 vs 3.4 s)."
    assert compare("A", 4.0, "B", 3.0, unit="s", higher_is_better=False).startswith("A is 25 % slower")
    assert compare("A", 0.5, "B", 1.0, unit="", higher_is_better=False,
                   words=("lower", "higher", "low")) == "A is 2.0 times as low as B (0.5 vs 1)."


def test_0_51_never_rounds_to_0_or_1():
    sentence = compare("D", 332, "A", 649)  # the review's case: D at 0.51 times A's rate
    assert sentence == "D is 49 % slower than A (332 vs 649 images/s)."
    assert not re.search(r"\b[01]x|\b[01] times", sentence)
    assert "0.0" not in compare("TensorLoader", 765, "DataLoader", 16_000)
    assert "21 times" in compare("TensorLoader", 765, "DataLoader", 16_065)


def test_two_significant_figures():
    assert "1.5 times" not in compare("A", 3.46, "B", 1.0)
    assert "3.5 times" in compare("A", 3.46, "B", 1.0)
    assert "130 times" in compare("A", 1234, "B", 9.5)
    assert "4.6 % faster" in compare("A", 104.6, "B", 100)


def test_within_the_spread_is_about_the_same():
    assert compare("A", 105, "B", 100, spread=0.1).startswith("A and B are about the same")
    assert "within the 10 % spread" in compare("A", 105, "B", 100, spread=0.1)
    assert compare("A", 105, "B", 100, spread=0.01).startswith("A is 5.0 % faster")
    assert compare("A", 100.4, "B", 100).startswith("A and B are about the same")


def test_lists_of_repeats_use_median_and_range():
    assert summarize([1.0, 3.0, 2.0]) == (2.0, 1.0)
    assert summarize(4) == (4.0, 0.0)
    # medians 105 and 100; A's repeats span 20 % of their median, so 5 % is within the noise
    assert compare("A", [95, 105, 116], "B", [100, 100, 100]).startswith("A and B are about the same")
    # steady repeats: the same 5 % difference is real
    assert compare("A", [105, 105.5, 104.5], "B", [100, 100.2, 99.8]).startswith("A is 5.0 % faster")
    # the median, not the mean, counts: one slow outlier does not turn the verb around
    assert compare("A", [200, 210, 20], "B", [100, 101, 99], spread=0.05).startswith("A is 2.0 times")
    with pytest.raises(ValueError):
        compare("A", [], "B", 1)


def test_no_ratio_for_zero_or_missing():
    assert "cannot be compared" in compare("A", 0, "B", 10)
    assert "cannot be compared" in compare("A", float("nan"), "B", 10)


def test_load_warning(monkeypatch):
    monkeypatch.setattr(measure.os, "getloadavg", lambda: (3.9, 1.0, 1.0))
    monkeypatch.setattr(measure, "_usable_cores", lambda: 2)
    assert load_warning().startswith("This machine is busy (load 3.9 on 2 cores)")
    monkeypatch.setattr(measure.os, "getloadavg", lambda: (1.5, 1.0, 1.0))
    assert load_warning() is None


def test_print_load_warning_prints_one_line(monkeypatch, capsys):
    monkeypatch.setattr(measure.os, "getloadavg", lambda: (3.9, 1.0, 1.0))
    monkeypatch.setattr(measure, "_usable_cores", lambda: 2)
    assert measure.print_load_warning() is not None
    assert capsys.readouterr().out.count("\n") == 1


def test_fixed_threads_restores_the_count():
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with fixed_threads(other) as count:
        assert count == other and torch.get_num_threads() == other
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError):
        with fixed_threads(other):
            raise RuntimeError("timed code failed")
    assert torch.get_num_threads() == before
