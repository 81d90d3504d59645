"""The pace of every notebook: its live edition, and the times computed from it.

    python tools/pace.py                      the table: live, on your own, and each deep dive, in minutes
    python tools/pace.py live [NB ...]        write the presenter's edition of each notebook to notebooks/live/
    python tools/pace.py --write              put the computed minutes into each notebook's pace line
    python tools/pace.py --json               the same figures as JSON (for tests and other tools)
    python tools/pace.py --quotes             put the computed minutes everywhere else they are quoted:
                                              notebook 00's map, the README, the labs (English and French),
                                              the instructor agenda (tests/test_pace.py checks every one)

The convention (README, "For maintainers"):
- numbered sections are level-2 headings, `## N. Title`; a deep dive ends its heading with ` (optional)`;
  `###` subsections inherit their section's status; the only unnumbered level-2 sections are
  `## Checks` and then `## Exercises`, at the end;
- the first Markdown cell holds the title, one sentence, and the pace line
  `**Live: sections 0–8, about 17 min. On your own: about 35 min. Deep dives (optional): sections 9–11, about 20 min.**`;
- every core numbered section ends with one Markdown cell that starts with `**In short.**` (60 words at most).

The live edition keeps the first cell, the heading lines (and pictures) of the core sections, their code
cells, their In-short cells and the Checks; each deep dive becomes one line with its time, and the
exercises one line. It is generated, never edited by hand, and never committed (notebooks/live/ is ignored).

Times (minutes) = Markdown words / 130 + 0.5 per code cell + the code cells' measured run time in the
`quick` profile (benchmarks/results/cell-times-quick.json, written by `tools/time_notebooks.py`):
- live: over the live edition;
- on your own: over the full notebook without its deep dives (Checks and Exercises included);
- each deep dive: over its own cells.
Words are counted in Markdown only: fenced code, image markup and link targets are not words.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LIVE = NOTEBOOKS / "live"
CELL_TIMES = ROOT / "benchmarks" / "results" / "cell-times-quick.json"

WORDS_PER_MINUTE = 130
MINUTES_PER_CODE_CELL = 0.5
IN_SHORT = "**In short.**"
IN_SHORT_MAX_WORDS = 60
OPTIONAL = " (optional)"
UNNUMBERED = ("Checks", "Exercises")

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
SECTION = re.compile(r"^(\d+)\.\s+(.+)$")
PACE_LINE = re.compile(r"^\*\*(?:Live|Core path \(live\)): .*\*\*[ \t]*$", re.M)   # (the older form too)
PACE = re.compile(r"^\*\*Live: sections? (?P<core>[^,*]+?), about (?P<live>\d+) min\. "
                  r"On your own: about (?P<own>\d+) min\. "
                  r"Deep dives \(optional\): (?:none|sections? (?P<deep>[^,*]+?), about (?P<deep_min>\d+) min)\.\*\*\s*$",
                  re.M)


class PaceError(ValueError):
    """A notebook does not follow the pace convention; the message says where and what to write."""


@dataclass
class Section:
    kind: str                     # "intro", "core", "optional", "checks" or "exercises"
    number: int | None
    title: str
    cells: list = field(default_factory=list)   # indices into the notebook's cells

    @property
    def label(self) -> str:
        return f"{self.number}. {self.title}" if self.number is not None else self.title


def source(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def level2(text: str):
    """The first level-2 heading of a Markdown cell, or None."""
    for line in text.splitlines():
        m = HEADING.match(line)
        if m and len(m[1]) == 2:
            return m[2]
    return None


def sections(nb: dict, name: str = "notebook") -> list[Section]:
    """Split a notebook into its intro, numbered sections, Checks and Exercises."""
    out = [Section("intro", None, "intro")]
    seen: set[int] = set()
    for index, cell in enumerate(nb["cells"]):
        heading = level2(source(cell)) if cell["cell_type"] == "markdown" else None
        if heading is not None:
            m = SECTION.match(heading)
            if m:
                number, title = int(m[1]), m[2]
                if number in seen:
                    raise PaceError(f"{name}: two sections are numbered {number}")
                seen.add(number)
                if any(s.kind in ("checks", "exercises") for s in out):
                    raise PaceError(f"{name}: section '{heading}' comes after Checks or Exercises")
                kind = "optional" if title.endswith(OPTIONAL) else "core"
                out.append(Section(kind, number, title[: -len(OPTIONAL)] if kind == "optional" else title))
            elif heading in UNNUMBERED:
                out.append(Section(heading.lower(), None, heading))
            else:
                raise PaceError(f"{name}: '## {heading}' is neither numbered ('## 4. {heading}') nor "
                                f"one of {', '.join('## ' + u for u in UNNUMBERED)}")
        out[-1].cells.append(index)
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in source(cell).splitlines():
                m = HEADING.match(line)
                if m and len(m[1]) > 2 and m[2].endswith(OPTIONAL):
                    raise PaceError(f"{name}: subsections inherit their section's status: {line!r}")
    return out


# ------------------------------------------------------------------------------------------
# Words, code cells, run times
# ------------------------------------------------------------------------------------------

FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.M | re.S)
IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
TAG = re.compile(r"<[^>]+>")
WORD = re.compile(r"\S*\w\S*")


def words(markdown: str) -> int:
    text = FENCE.sub(" ", markdown)
    text = IMAGE.sub(" ", text)
    text = LINK.sub(r"\1", text)
    text = TAG.sub(" ", text)
    return len(WORD.findall(text))


def is_code(cell) -> bool:
    return cell["cell_type"] == "code" and source(cell).strip() != ""


def load_cell_times(path: Path = CELL_TIMES) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {"notebooks": {}}


def minutes(cells: list, run_seconds: dict) -> dict:
    """The pace formula over a list of cells; run_seconds maps a cell id to its measured seconds."""
    w = sum(words(source(c)) for c in cells if c["cell_type"] == "markdown")
    code = [c for c in cells if is_code(c)]
    run = sum(run_seconds.get(c.get("id"), 0.0) for c in code)
    missing = [c.get("id") for c in code if c.get("id") not in run_seconds]
    total = w / WORDS_PER_MINUTE + MINUTES_PER_CODE_CELL * len(code) + run / 60
    return {"words": w, "code_cells": len(code), "run_seconds": round(run, 2), "minutes": round(total, 2),
            "unmeasured": missing}


# ------------------------------------------------------------------------------------------
# The live edition
# ------------------------------------------------------------------------------------------

RELATIVE_LINK = re.compile(r"(\]\()(?!https?:|mailto:|attachment:|#|/)([^)\s]+)")


def _relink(text: str) -> str:
    """Links and pictures point one folder up: the live edition lives in notebooks/live/."""
    return RELATIVE_LINK.sub(lambda m: m[1] + "../" + m[2], text)


def _markdown(text: str, cell_id: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text}


def _keep_of_core_markdown(text: str) -> str:
    """What the live edition keeps of a core Markdown cell: an In-short cell whole; otherwise its
    heading lines and its pictures."""
    if text.lstrip().startswith(IN_SHORT):
        return text
    kept = [line for line in text.splitlines() if HEADING.match(line) or line.lstrip().startswith("![")]
    return "\n\n".join(kept)


def deep_dive_line(section: Section, mins: float) -> str:
    return (f"**{section.number}. {section.title}** (deep dive, about {math.ceil(mins)} min in the full "
            f"notebook; not presented live)")


def live_edition(nb: dict, name: str, run_seconds: dict | None = None) -> dict:
    run_seconds = run_seconds or {}
    live = copy.deepcopy(nb)
    cells = nb["cells"]
    out = []
    for section in sections(nb, name):
        if section.kind == "optional":
            mins = minutes([cells[i] for i in section.cells], run_seconds)["minutes"]
            out.append(_markdown(deep_dive_line(section, mins), f"live-deep-{section.number}"))
            continue
        if section.kind == "exercises":
            out.append(_markdown("## Exercises\n\nThe exercises, with their solutions, are in the full "
                                 "notebook.", "live-exercises"))
            continue
        for position, index in enumerate(section.cells):
            cell = copy.deepcopy(cells[index])
            if cell["cell_type"] == "markdown":
                text = source(cell)
                if section.kind == "intro" and position == 0:
                    text = (text.rstrip() + f"\n\n*Presenter's edition of `{name}`, generated by `make live`: "
                            "the core path only. Learners follow in the full notebook by section number.*")
                elif section.kind == "checks":
                    text = "\n\n".join(line for line in text.splitlines() if HEADING.match(line))
                else:
                    text = _keep_of_core_markdown(text)
                if text.strip():
                    cell["source"] = _relink(text)
                    kept = {k: v for k, v in cell.get("attachments", {}).items() if f"attachment:{k}" in text}
                    cell.pop("attachments", None)
                    if kept:
                        cell["attachments"] = kept
                    out.append(cell)
            elif is_code(cell) or cell["cell_type"] == "raw":
                out.append(cell)
    live["cells"] = out
    live.setdefault("metadata", {})["live_edition"] = {"source": name, "generated_by": "tools/pace.py"}
    return live


def write_live(paths: list[Path], folder: Path = LIVE) -> list[Path]:
    """Write the live edition of each notebook into `folder`, with the scripts the notebooks use."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = {p.name for p in NOTEBOOKS.glob("*.ipynb")}
    for old in folder.glob("*.ipynb"):             # an edition whose notebook is gone
        if old.name not in sources:
            old.unlink()
    times = load_cell_times()["notebooks"]
    written = []
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        live = live_edition(nb, path.name, times.get(path.name, {}))
        target = folder / path.name
        target.write_text(json.dumps(live, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(target)
    for script in NOTEBOOKS.glob("*.py"):          # e.g. train_ddp.py, which notebook 07 runs
        shutil.copy2(script, folder / script.name)
    (folder / "README.md").write_text(
        "# Live editions (generated)\n\nWritten by `make live` from the notebooks one folder up; "
        "every change here is lost at the next `make live`. Edit the full notebook instead.\n")
    return written


# ------------------------------------------------------------------------------------------
# Times, and the pace line
# ------------------------------------------------------------------------------------------

def ranges(numbers: list[int]) -> str:
    """[0, 1, 2, 5] -> '0–2 and 5'."""
    parts, numbers = [], sorted(numbers)
    start = prev = None
    for n in numbers + [None]:
        if start is None:
            start = prev = n
        elif n is not None and n == prev + 1:
            prev = n
        else:
            parts.append(f"{start}–{prev}" if prev != start else f"{start}")
            start = prev = n
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else (parts[0] if parts else "")


def section_word(numbers: list[int]) -> str:
    return ("sections " if len(numbers) > 1 else "section ") + ranges(numbers)


def pace(path: Path, run_seconds: dict | None = None) -> dict:
    nb = json.loads(path.read_text(encoding="utf-8"))
    run_seconds = run_seconds if run_seconds is not None else load_cell_times()["notebooks"].get(path.name, {})
    secs = sections(nb, path.name)
    cells = nb["cells"]
    core_cells = [cells[i] for s in secs if s.kind != "optional" for i in s.cells]
    live = live_edition(nb, path.name, run_seconds)
    deep = {s.number: {"title": s.title, **minutes([cells[i] for i in s.cells], run_seconds)}
            for s in secs if s.kind == "optional"}
    return {
        "notebook": path.name,
        "core_sections": [s.number for s in secs if s.kind == "core"],
        "deep_sections": sorted(deep),
        "live": minutes(live["cells"], run_seconds),
        "own": minutes(core_cells, run_seconds),
        "deep": deep,
        "deep_minutes": round(sum(d["minutes"] for d in deep.values()), 2),
    }


def pace_line(p: dict) -> str:
    line = (f"**Live: {section_word(p['core_sections'])}, about {math.ceil(p['live']['minutes'])} min. "
            f"On your own: about {math.ceil(p['own']['minutes'])} min. Deep dives (optional): ")
    if p["deep_sections"]:
        line += f"{section_word(p['deep_sections'])}, about {math.ceil(p['deep_minutes'])} min.**"
    else:
        line += "none.**"
    return line


def write_pace_line(path: Path, p: dict) -> bool:
    """Put the computed pace line into the notebook's first Markdown cell; True if it changed."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    first = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    text = source(first)
    if not PACE_LINE.search(text):
        raise PaceError(f"{path.name}: the first Markdown cell has no pace line (**Live: ...**) to update")
    new = PACE_LINE.sub(pace_line(p), text, count=1)
    if new == text:
        return False
    first["source"] = new.splitlines(keepends=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


# ------------------------------------------------------------------------------------------
# Quoted times outside the pace lines: one rule per place, each with named groups
#   nb (the notebook's number; else the lab folder names it), live, own, deep, total_live,
#   sections (English) or sections_fr (French): tools/pace.py --quotes rewrites exactly those groups.
# ------------------------------------------------------------------------------------------

LAB_NOTEBOOK = {"setup-check": "00", "tensors": "01", "datasets-and-dataloaders": "02",
                "convolutional-networks": "03", "loss-and-optimizer": "04", "training-and-evaluation": "05",
                "gpu-acceleration": "06", "scaling-out": "07"}
SP = r"[ \u00a0\u202f]"          # French typography puts a (narrow) no-break space before : and ;


@dataclass
class Quote:
    where: str                 # a glob relative to the repository root
    pattern: re.Pattern
    expected: int              # matches expected in each file (one per notebook, or one)
    seed: re.Pattern | None = None      # an older wording that --quotes turns into the new one
    seed_to: str = ""


QUOTES = [
    Quote("notebooks/00_setup_check.ipynb",
          re.compile(r"^\| \[(?P<nb>\d\d) · [^\]]*\]\(\d\d_\w+\.ipynb\) \|[^\n]*?\| (?P<live>\d+) min \| "
                     r"(?P<own>\d+) min \|", re.M), 8),
    Quote("README.md",
          re.compile(r"^\| \[(?P<nb>\d\d)_\w+\]\(notebooks/\d\d_\w+\.ipynb\) \|[^\n]*?\| (?P<live>\d+) min \| "
                     r"(?P<own>\d+) min \|", re.M), 8),
    Quote("labs/*/*.md",
          re.compile(r"^Estimated Time: (?P<own>\d+) minutes \(live: (?P<live>\d+) minutes"
                     r"(?:; optional deep dives: (?P<deep>\d+) minutes more)?\)", re.M), 1,
          re.compile(r"^Estimated Time: \d+ minutes$", re.M),
          "Estimated Time: 0 minutes (live: 0 minutes; optional deep dives: 0 minutes more)"),
    Quote("labs/*/*_fr.md",
          re.compile(rf"^Durée estimée{SP}: (?P<own>\d+) minutes \(en direct{SP}: (?P<live>\d+) minutes"
                     rf"(?:{SP}; approfondissements facultatifs{SP}: (?P<deep>\d+) minutes de plus)?\)", re.M), 1,
          re.compile(rf"^Durée estimée{SP}: \d+ minutes$", re.M),
          "Durée estimée\u00a0: 0 minutes (en direct\u00a0: 0 minutes\u202f; approfondissements facultatifs\u00a0: 0 minutes de plus)"),
    Quote("labs/for-instructors/for-instructors.md",
          re.compile(r"`(?P<nb>\d\d)_\w+\.ipynb` \| (?P<sections>sections? [^|]*?), about (?P<live>\d+) min "
                     r"live, (?P<own>\d+) on your own \|"), 8,
          re.compile(r"(`\d\d_\w+\.ipynb` \| sections? [^|]*?, about \d+ min) \|"), r"\1 live, 0 on your own |"),
    Quote("labs/for-instructors/for-instructors_fr.md",
          re.compile(r"`(?P<nb>\d\d)_\w+\.ipynb` \| (?P<sections_fr>sections? [^|]*?), environ (?P<live>\d+) min "
                     r"en direct, (?P<own>\d+) en autonomie \|"), 8,
          re.compile(r"(`\d\d_\w+\.ipynb` \| sections? [^|]*?, environ \d+ min) \|"), r"\1 en direct, 0 en autonomie |"),
    Quote("labs/for-instructors/for-instructors.md",
          re.compile(r"The live editions add up to about (?P<total_live>\d+) minutes of presenting"), 1,
          re.compile(r"The core paths add up to about 3 hours 15 minutes of presenting"),
          "The live editions add up to about 0 minutes of presenting"),
    Quote("labs/for-instructors/for-instructors_fr.md",
          re.compile(r"Les éditions en direct représentent en tout environ (?P<total_live>\d+) minutes de\s+présentation"), 1,
          re.compile(r"Les parcours essentiels représentent en tout environ 3 heures 15 minutes de présentation"),
          "Les éditions en direct représentent en tout environ 0 minutes de présentation"),
    Quote("labs/introduction/introduction*.md",
          re.compile(r"`(?P<nb>\d\d)_\w+\.ipynb` \| (?P<own>\d+) minutes \|"), 8),
    Quote("labs/introduction/introduction.md",
          re.compile(r"^Estimated Workshop Time: (?P<work_h>\d+) hours (?P<work_m>\d+) minutes", re.M), 1),
    Quote("labs/introduction/introduction_fr.md",
          re.compile(rf"^Durée estimée de l'atelier{SP}: (?P<work_h>\d+) heures (?P<work_m>\d+) minutes", re.M), 1),
]
SETUP_LAB_MINUTES = 30      # the introduction's table: one setup option takes 20 to 30 minutes


def ranges_fr(numbers: list[int]) -> str:
    """[0, 1, 2, 5] -> 'sections 0 à 2 et 5' (the French agenda's wording)."""
    text = ranges(numbers).replace("–", " à ").replace(" and ", " et ")
    return ("sections " if len(numbers) > 1 else "section ") + text


def quote_files(q: Quote) -> list[Path]:
    files = sorted(ROOT.glob(q.where))
    if q.where.startswith("labs/*/"):
        files = [f for f in files if f.parent.name in LAB_NOTEBOOK]
        files = [f for f in files if f.name.endswith("_fr.md") == q.where.endswith("_fr.md")]
    return files


def quote_figures(q: Quote, path: Path, match: re.Match, by_number: dict) -> dict:
    """What each named group of one match should say: {group: text}."""
    groups = match.groupdict()
    if "work_h" in groups:      # the whole workshop on your own: a setup lab and notebooks 00-07, to 10 min
        total = math.ceil((sum(p["own"]["minutes"] for p in by_number.values()) + SETUP_LAB_MINUTES) / 10) * 10
        return {"work_h": str(total // 60), "work_m": str(total % 60)}
    if "total_live" in groups:
        return {"total_live": str(math.ceil(sum(p["live"]["minutes"] for p in by_number.values())))}
    number = groups.get("nb") or LAB_NOTEBOOK[path.parent.name]
    p = by_number[number]
    want = {"live": str(math.ceil(p["live"]["minutes"])), "own": str(math.ceil(p["own"]["minutes"])),
            "sections": section_word(p["core_sections"]), "sections_fr": ranges_fr(p["core_sections"])}
    if p["deep_sections"]:
        want["deep"] = str(math.ceil(p["deep_minutes"]))
    return {k: v for k, v in want.items() if k in groups}


def _texts(path: Path):
    """The texts a rule reads in a file: a Markdown file whole, or each Markdown cell of a notebook."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        return nb, [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    return None, [path.read_text(encoding="utf-8")]


def check_quotes(paces: list[dict]) -> list[str]:
    """Every quoted time that disagrees with the computed one, as a message (empty: all agree)."""
    by_number = {p["notebook"][:2]: p for p in paces}
    problems = []
    for q in QUOTES:
        for path in quote_files(q):
            _, texts = _texts(path)
            found = 0
            for text in texts:
                for m in q.pattern.finditer(source(text) if isinstance(text, dict) else text):
                    found += 1
                    number = m.groupdict().get("nb") or LAB_NOTEBOOK.get(path.parent.name, "")
                    if "work_h" in m.groupdict():
                        want = quote_figures(q, path, m, by_number)
                        said, need = int(m["work_h"]) * 60 + int(m["work_m"]), int(want["work_h"]) * 60 + int(want["work_m"])
                        if not need <= said <= need + 30:
                            problems.append(f"{path.relative_to(ROOT)}: the workshop takes {said} min on your own; "
                                            f"computed {need}")
                        continue
                    if "total_live" not in m.groupdict() and number not in by_number:
                        continue
                    for group, want in quote_figures(q, path, m, by_number).items():
                        said = m[group]
                        if group.startswith("sections"):
                            ok = said == want
                        else:
                            ok = said is not None and int(want) <= int(said) <= math.ceil(int(want) * 1.15) + 1
                        if not ok:
                            problems.append(f"{path.relative_to(ROOT)}: '{m[0][:70]}' says {group} {said!r}; "
                                            f"computed {want}")
                    if m.groupdict().get("deep") is None and "deep" in quote_figures(q, path, m, by_number):
                        problems.append(f"{path.relative_to(ROOT)}: '{m[0][:70]}' does not quote the deep dives")
            if found != q.expected:
                problems.append(f"{path.relative_to(ROOT)}: {found} quoted time(s) in the form "
                                f"/{q.pattern.pattern[:60]}.../, expected {q.expected}")
    return problems


def write_quotes(paces: list[dict]) -> list[Path]:
    """Rewrite every quoted time with the computed one; returns the files that changed."""
    by_number = {p["notebook"][:2]: p for p in paces}
    changed = []

    def rewrite(q, path, text):
        if q.seed is not None and not q.pattern.search(text):
            text = q.seed.sub(q.seed_to, text)

        def one(m):
            if not {"total_live", "work_h"} & set(m.groupdict()) and (m.groupdict().get("nb") or
                                                                      LAB_NOTEBOOK.get(path.parent.name)) not in by_number:
                return m[0]
            want = quote_figures(q, path, m, by_number)
            out, last = [], m.start()
            spans = sorted((m.start(g), m.end(g), g) for g in want if m.start(g) >= 0)
            for start, end, g in spans:
                out += [m.string[last:start], want[g]]
                last = end
            out.append(m.string[last:m.end()])
            text_ = "".join(out)
            if "deep" not in want and m.groupdict().get("deep") is not None:   # a notebook without deep dives
                text_ = re.sub(rf"{SP}?; (optional deep dives: \d+ minutes more|approfondissements facultatifs{SP}: "
                               r"\d+ minutes de plus)", "", text_)
            if "deep" in want and m.groupdict().get("deep") is None:   # a notebook that gained deep dives
                text_ = text_.replace(")", (f"; optional deep dives: {want['deep']} minutes more)"
                                            if "Estimated" in text_ else
                                            f"\u202f; approfondissements facultatifs\u00a0: {want['deep']} minutes de plus)"), 1)
            return text_
        return q.pattern.sub(one, text)

    for q in QUOTES:
        for path in quote_files(q):
            nb, texts = _texts(path)
            if nb is None:
                old = texts[0]
                new = rewrite(q, path, old)
                if new != old:
                    path.write_text(new, encoding="utf-8")
                    changed.append(path)
            else:
                dirty = False
                for cell in texts:
                    old = source(cell)
                    new = rewrite(q, path, old)
                    if new != old:
                        cell["source"] = new.splitlines(keepends=True)
                        dirty = True
                if dirty:
                    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
                    changed.append(path)
    return changed


def table(paces: list[dict]) -> str:
    lines = ["| notebook | live (min) | on your own (min) | deep dives (min) | live: words, code cells, run s |",
             "| --- | ---: | ---: | ---: | --- |"]
    for p in paces:
        deep = ", ".join(f"§{n} {d['minutes']:.1f}" for n, d in p["deep"].items()) or "none"
        lines.append(f"| {p['notebook']} | {p['live']['minutes']:.1f} | {p['own']['minutes']:.1f} | {deep} | "
                     f"{p['live']['words']}, {p['live']['code_cells']}, {p['live']['run_seconds']:.1f} |")
    total = lambda key: sum(p[key]["minutes"] for p in paces)   # noqa: E731
    lines.append(f"| **all** | {total('live'):.1f} | {total('own'):.1f} | "
                 f"{sum(p['deep_minutes'] for p in paces):.1f} | |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", metavar="[live] NOTEBOOK",
                        help="'live' first to write live editions; then notebooks (default: every notebooks/NN_*.ipynb)")
    parser.add_argument("--write", action="store_true", help="write the computed pace line into each notebook")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--quotes", action="store_true",
                        help="rewrite the times quoted in notebook 00's map, the README, the labs and the agenda")
    parser.add_argument("--out", type=Path, default=LIVE, help="folder for the live editions (default notebooks/live)")
    args = parser.parse_args(argv)
    args.command = "table"
    if args.notebooks and args.notebooks[0] in ("live", "table"):
        args.command = args.notebooks.pop(0)
    paths = [Path(p).resolve() for p in args.notebooks] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    try:
        if args.command == "live":
            for target in write_live(paths, args.out):
                print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
            return 0
    except PaceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    paces, failed = [], []
    for path in paths:
        try:
            paces.append(pace(path))
        except PaceError as error:
            failed.append(path)
            print(f"error: {error}", file=sys.stderr)
    paths = [p for p in paths if p not in failed]
    if args.write and not args.notebooks:
        parser.error("--write changes notebooks: name them (e.g. notebooks/05_*.ipynb)")
    if args.write:
        for path, p in zip(paths, paces):
            if write_pace_line(path, p):
                print(f"updated the pace line of {path.name}")
    if args.quotes:
        if failed or args.notebooks:
            parser.error("--quotes needs every notebook, each following the convention")
        for path in write_quotes(paces):
            print(f"updated the times quoted in {path.relative_to(ROOT)}")
    if args.json:
        print(json.dumps(paces, indent=1))
    else:
        print(table(paces))
        unmeasured = {p["notebook"]: len(p["own"]["unmeasured"]) + sum(len(d["unmeasured"]) for d in p["deep"].values())
                      for p in paces}
        unmeasured = {k: v for k, v in unmeasured.items() if v}
        if unmeasured:
            print("\nCode cells without a measured run time (counted as 0 s): "
                  + ", ".join(f"{k} {v}" for k, v in unmeasured.items())
                  + ". Run: python tools/time_notebooks.py --profile quick --cells NOTEBOOK")
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
