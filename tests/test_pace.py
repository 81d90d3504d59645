"""The pace convention, in every notebook (README, maintainer section).

- The first Markdown cell: the title, one sentence on what the notebook does, then the line
      **Core path (live): sections 1–6, about N min. Deep dives (optional): sections 7–9.**
  ("section 4" for one, "1–3 and 5" for several ranges, "none" when there are no deep dives).
- Numbered sections are level-2 headings `## 7. Title`. Each one is either core or a deep dive, and
  exactly the deep dives end their heading with ` (optional)`. Subsections inherit their section's
  status, so no `###` heading carries the marker.
- The core paths of notebooks 00–03 together take at most 60 minutes live.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
OPTIONAL = " (optional)"
PACE = re.compile(r"^\*\*Core path \(live\): sections? (?P<core>[^*]+?), about (?P<minutes>\d+) min\. "
                  r"Deep dives \(optional\): (?P<deep>none|sections? [^*]+?)\.\*\*$", re.M)
SECTION = re.compile(r"^## (\d+)\. (.+?)\s*$", re.M)


def section_numbers(text: str) -> list[int]:
    """'sections 1–6' -> [1..6]; 'sections 1–3 and 5' -> [1, 2, 3, 5]; 'none' -> []."""
    text = re.sub(r"^sections? ", "", text.strip())
    if text == "none":
        return []
    numbers = []
    for part in re.split(r",\s*|\s+and\s+", text):
        m = re.fullmatch(r"(\d+)(?:\s*[–-]\s*(\d+))?", part.strip())
        assert m, f"cannot read the section list {text!r} (write e.g. 'sections 1–6' or '1–3 and 5')"
        first, last = int(m[1]), int(m[2] or m[1])
        assert first <= last, f"section range {part!r} runs backwards"
        numbers += range(first, last + 1)
    return numbers


def markdown(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]


def pace(path: Path):
    first = markdown(path)[0]
    m = PACE.search(first)
    assert m, (f"{path.name}: the first Markdown cell needs the line\n"
               "**Core path (live): sections 1–6, about N min. Deep dives (optional): sections 7–9.**")
    return first, m


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_says_what_and_how_long(path):
    first, m = pace(path)
    lines = first[:m.start()].strip().splitlines()
    assert lines and lines[0].startswith("# "), f"{path.name}: the first cell starts with the title"
    sentence = " ".join(line for line in lines[1:] if line.strip())
    assert sentence.endswith((".", ":")) and len(sentence.split()) >= 6, \
        f"{path.name}: one sentence on what the notebook does comes before the pace line"
    assert 1 <= int(m["minutes"]) <= 60, f"{path.name}: a core path of {m['minutes']} min?"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_sections_are_core_or_marked_optional(path):
    _, m = pace(path)
    core, deep = section_numbers(m["core"]), section_numbers(m["deep"])
    assert not set(core) & set(deep), f"{path.name}: sections {set(core) & set(deep)} are both core and optional"
    headings = {}
    for text in markdown(path):
        for number, title in SECTION.findall(text):
            assert int(number) not in headings, f"{path.name}: two sections numbered {number}"
            headings[int(number)] = title
        for line in text.splitlines():
            if line.startswith("###"):
                assert not line.rstrip().endswith(OPTIONAL), \
                    f"{path.name}: subsections inherit their section's status: {line!r}"
    assert sorted(headings) == sorted(core + deep), \
        f"{path.name}: the pace line lists sections {sorted(core + deep)}, the headings are {sorted(headings)}"
    for number, title in headings.items():
        if number in deep:
            assert title.endswith(OPTIONAL), f"{path.name}: '## {number}. {title}' is a deep dive: end it with '{OPTIONAL}'"
        else:
            assert OPTIONAL not in title, f"{path.name}: '## {number}. {title}' is on the core path"


def test_the_first_hour_fits_in_an_hour():
    first_four = [p for p in NOTEBOOKS if p.name[:2] in ("00", "01", "02", "03")]
    assert len(first_four) == 4
    minutes = {p.name: int(pace(p)[1]["minutes"]) for p in first_four}
    assert sum(minutes.values()) <= 60, f"the core paths of 00–03 take {sum(minutes.values())} min live: {minutes}"


def test_reading_section_lists():
    assert section_numbers("sections 1–6") == [1, 2, 3, 4, 5, 6]
    assert section_numbers("sections 1–3 and 5") == [1, 2, 3, 5]
    assert section_numbers("section 4") == [4]
    assert section_numbers("sections 0, 2-3") == [0, 2, 3]
    assert section_numbers("none") == []
