"""The LiveLabs guides in labs/ and the figures in images/.

What is checked, and why:

* each ``labs/workshops/*/manifest.json`` is valid JSON in the LiveLabs schema and names lab
  files that exist; every lab folder appears in a manifest;
* each lab reads like a LiveLabs guide: its sections in the usual order, tasks numbered 1, 2, 3...;
* every image has alt text, and every relative link (images, notebooks, other labs) resolves;
* every ``make X`` and ``python -m labkit VERB --option`` a lab tells a learner to run exists
  (the Makefile's targets, labkit's argparse verbs and options);
* no lab starts JupyterLab on a public interface or without a token; the cloud labs use an SSH tunnel;
* every figure in images/ is drawn by a script in tools/figures/, and drawing them twice gives
  the same bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LABS = ROOT / "labs"
WORKSHOPS = LABS / "workshops"
MANIFESTS = sorted(WORKSHOPS.glob("*/manifest.json"))
LAB_FILES = sorted(p for p in LABS.glob("*/*.md") if p.parent.name != "workshops")
CLOUD_LABS = ("setup-cpu-instance", "setup-gpu-instance")


def lab_id(path: Path) -> str:
    return path.parent.name


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


FENCE = re.compile(r"^([ \t]*)```.*?^\1```[ \t]*$", re.S | re.M)


def without_code_blocks(text: str) -> str:
    """The text with fenced code blocks removed (their lines are not headings or prose)."""
    return FENCE.sub("", text)


def code_snippets(text: str) -> list[str]:
    """Every fenced code block and every inline `code span`, with <copy> tags removed.

    Code inside block quotes (notes, troubleshooting boxes) counts too: the `>` marks are dropped.
    """
    text = re.sub(r"^([ \t]*)> ?", r"\1", text, flags=re.M)
    blocks = [m.group(0) for m in FENCE.finditer(text)]
    inline = re.findall(r"`([^`\n]+)`", without_code_blocks(text))
    snippets = []
    for s in blocks + inline:
        s = re.sub(r"</?copy>", "", s)
        s = "\n".join(line for line in s.splitlines() if not line.lstrip().startswith("```"))
        snippets.append(s)
    return snippets


def command_lines(text: str) -> list[str]:
    """Shell command lines in the lab's code (comments stripped, split at && ; and |)."""
    lines = []
    for snippet in code_snippets(text):
        for line in snippet.splitlines():
            line = re.sub(r"(^|\s)#.*$", "", line).strip()
            line = re.sub(r"^\$\s+", "", line)
            lines.extend(part.strip() for part in re.split(r"&&|;|\|\||\|", line) if part.strip())
    return lines


# --------------------------------------------------------------------------------------------
# Manifests
# --------------------------------------------------------------------------------------------

def test_there_are_manifests_and_labs():
    assert {p.parent.name for p in MANIFESTS} >= {"freetier", "livelabs"}, MANIFESTS
    assert len(LAB_FILES) >= 12, f"expected the workshop's labs in labs/*/*.md, found {LAB_FILES}"
    for lab in LAB_FILES:
        assert lab.name == f"{lab.parent.name}.md", f"{lab}: a lab file is named after its folder"
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", lab.parent.name), \
            f"{lab.parent}: lab folders are lowercase-dashed"


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.parent.name)
def test_manifest_schema_and_files(manifest):
    data = json.loads(read(manifest))
    assert isinstance(data, dict), f"{manifest}: the top level must be an object"
    assert isinstance(data.get("workshoptitle"), str) and data["workshoptitle"].strip()
    assert isinstance(data.get("help"), str) and data["help"].strip()
    tutorials = data.get("tutorials")
    assert isinstance(tutorials, list) and tutorials, f"{manifest}: tutorials must be a non-empty list"
    seen = set()
    for i, t in enumerate(tutorials):
        where = f"{manifest.relative_to(ROOT)} tutorials[{i}]"
        assert isinstance(t, dict), f"{where} must be an object"
        keys = ("title", "description", "filename")
        assert set(t) >= set(keys), f"{where} lacks {sorted(set(keys) - set(t))}"
        for key in keys:
            assert isinstance(t[key], str) and t[key].strip(), f"{where}.{key} must be a non-empty string"
        assert not re.match(r"[a-z]+://", t["filename"]), f"{where}: use a relative path, not a URL"
        target = (manifest.parent / t["filename"]).resolve()
        assert target.is_file(), f"{where}: {t['filename']} does not exist"
        assert target not in seen, f"{where}: {t['filename']} is listed twice"
        seen.add(target)
    first = (manifest.parent / tutorials[0]["filename"]).resolve()
    assert first == (LABS / "introduction" / "introduction.md").resolve(), \
        f"{manifest.relative_to(ROOT)}: the first tutorial is the introduction"


def test_every_lab_is_in_a_manifest():
    listed = set()
    for manifest in MANIFESTS:
        for t in json.loads(read(manifest))["tutorials"]:
            listed.add((manifest.parent / t["filename"]).resolve())
    missing = [str(p.relative_to(ROOT)) for p in LAB_FILES if p.resolve() not in listed]
    assert not missing, f"labs that no manifest lists: {missing}"


# --------------------------------------------------------------------------------------------
# The shape of a LiveLabs guide
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lab", LAB_FILES, ids=lab_id)
def test_livelabs_sections(lab):
    text = without_code_blocks(read(lab))
    lines = text.splitlines()
    assert lines and re.match(r"# \S", lines[0]), f"{lab.name}: the first line is '# Title'"
    assert len(re.findall(r"^# ", text, re.M)) == 1, f"{lab.name}: one '# Title' only"

    def position(pattern, what):
        m = re.search(pattern, text, re.M)
        assert m, f"{lab.name}: missing {what}"
        return m.start()

    order = [
        position(r"^## Introduction\s*$", "'## Introduction'"),
        position(r"^Estimated (Workshop )?Time: \d+ (minutes|hours?)", "'Estimated Time: N minutes'"),
        position(r"^### Objectives\s*$", "'### Objectives'"),
        position(r"^### Prerequisites\s*$", "'### Prerequisites'"),
    ]
    tasks = [int(n) for n in re.findall(r"^## Task (\d+): \S", text, re.M)]
    if lab_id(lab) != "introduction":  # a LiveLabs introduction has no tasks
        assert tasks, f"{lab.name}: no '## Task 1: ...' sections"
        assert tasks == list(range(1, len(tasks) + 1)), f"{lab.name}: tasks numbered {tasks}"
        order.append(position(r"^## Task 1: ", "'## Task 1: ...'"))
    order += [position(r"^## Learn More\s*$", "'## Learn More'"),
              position(r"^## Acknowledgements\s*$", "'## Acknowledgements'")]
    assert order == sorted(order), f"{lab.name}: sections out of the LiveLabs order"
    acknowledgements = text[order[-1]:]
    for field in ("Author", "Contributors", "Last Updated By/Date"):
        assert re.search(rf"^\* \*\*{re.escape(field)}\*\* - \S", acknowledgements, re.M), \
            f"{lab.name}: Acknowledgements lacks '* **{field}** - ...'"


@pytest.mark.parametrize("lab", LAB_FILES, ids=lab_id)
def test_copy_tags_are_balanced(lab):
    text = read(lab)
    opened, closed = text.count("<copy>"), text.count("</copy>")
    assert opened == closed, f"{lab.name}: {opened} <copy> but {closed} </copy>"
    for m in re.finditer(r"<copy>(.*?)</copy>", text, re.S):
        assert m.group(1).strip(), f"{lab.name}: an empty <copy> block"
        assert "<copy>" not in m.group(1), f"{lab.name}: nested <copy>"


# --------------------------------------------------------------------------------------------
# Images and links
# --------------------------------------------------------------------------------------------

IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


@pytest.mark.parametrize("lab", LAB_FILES, ids=lab_id)
def test_images_have_alt_text_and_exist(lab):
    text = read(lab)
    for alt, target in IMAGE.findall(text):
        assert len(alt.split()) >= 3, f"{lab.name}: image {target} needs descriptive alt text, not {alt!r}"
        assert not re.match(r"[a-z]+://", target), f"{lab.name}: {target}: images live in the repository"
        path = (lab.parent / target).resolve()
        assert path.is_file(), f"{lab.name}: image {target} does not exist ({path})"


@pytest.mark.parametrize("lab", LAB_FILES, ids=lab_id)
def test_relative_links_resolve(lab):
    text = without_code_blocks(read(lab))
    for target in LINK.findall(text) + [t for _, t in IMAGE.findall(text)]:
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # web addresses, mailto:, and anchors in the same page
        path = (lab.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{lab.name}: the link {target} points to nothing ({path})"
        assert ROOT in path.parents, f"{lab.name}: the link {target} leaves the repository"


@pytest.mark.parametrize("lab", LAB_FILES, ids=lab_id)
def test_named_notebooks_exist(lab):
    """Every notebook a lab names, linked or not (`03_convolutional_networks.ipynb`), is in notebooks/."""
    for name in set(re.findall(r"\b(\d\d_[a-z0-9_]+\.ipynb)\b", read(lab))):
        assert (ROOT / "notebooks" / name).is_file(), f"{lab.name}: names {name}, which is not in notebooks/"


# --------------------------------------------------------------------------------------------
# Commands a learner runs
# --------------------------------------------------------------------------------------------

def makefile_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9][A-Za-z0-9_-]*)\s*:(?!=)", read(ROOT / "Makefile"), re.M))


def labkit_help(*argv) -> str:
    """The help text of ``python -m labkit`` (argparse), without starting a process."""
    if str(ROOT / "notebooks") not in sys.path:
        sys.path.insert(0, str(ROOT / "notebooks"))
    from labkit.__main__ import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main([*argv, "--help"])
    return out.getvalue()


def labkit_verbs() -> set[str]:
    m = re.search(r"\{([\w,-]+)\}", labkit_help())
    assert m, "cannot find labkit's verbs in its --help"
    return set(m.group(1).split(","))


MAKE = re.compile(r"^(?:sudo\s+)?(?:[A-Z_][A-Z0-9_]*=\S*\s+)*make(?:\s+(.*))?$")
LABKIT = re.compile(r"python[\d.]*\s+-m\s+labkit(?:\s+(.*))?$")


@pytest.mark.parametrize("lab", LAB_FILES, ids=lab_id)
def test_commands_exist(lab):
    targets, verbs = makefile_targets(), labkit_verbs()
    assert {"lab", "test", "data", "check", "images"} <= targets
    for line in command_lines(read(lab)):
        m = MAKE.match(line)
        if m:
            words = (m.group(1) or "").split()
            for word in words:
                if "=" in word or word.startswith("-"):
                    continue  # a variable (PORT=8889) or an option
                assert word in targets, f"{lab.name}: `{line}`: the Makefile has no target {word!r}"
        m = LABKIT.search(line)
        if m:
            words = (m.group(1) or "").split()
            assert words, f"{lab.name}: `{line}` names no labkit verb"
            assert words[0] in verbs, f"{lab.name}: `{line}`: labkit has no verb {words[0]!r} ({sorted(verbs)})"
            options = [w.split("=")[0] for w in words[1:] if w.startswith("--")]
            if options:
                help_text = labkit_help(words[0])
                for option in options:
                    assert option in help_text, f"{lab.name}: `{line}`: {words[0]} has no option {option}"


PUBLIC = [
    (r"--ip[= ]+['\"]?(0\.0\.0\.0|\*|::)", "JupyterLab listening on every interface"),
    (r"(ServerApp|NotebookApp)\.ip\s*=\s*['\"]?(0\.0\.0\.0|\*|::)", "JupyterLab listening on every interface"),
    (r"(ServerApp|NotebookApp|IdentityProvider)\.token\s*=\s*(''|\"\"|\s|$)", "JupyterLab without a token"),
    (r"(ServerApp|NotebookApp)\.password\s*=\s*(''|\"\"|\s|$)", "JupyterLab without a password or token"),
    (r"--no-?token|disable_check_xsrf", "JupyterLab without its protections"),
]


@pytest.mark.parametrize("lab", LAB_FILES, ids=lab_id)
def test_no_public_jupyter_without_a_token(lab):
    text = read(lab)
    for pattern, what in PUBLIC:
        m = re.search(pattern, text, re.M)
        assert not m, f"{lab.name}: {what}: {m.group(0)!r}. Reach JupyterLab through an SSH tunnel."


def test_cloud_labs_use_an_ssh_tunnel():
    for name in CLOUD_LABS:
        text = read(LABS / name / f"{name}.md")
        assert re.search(r"<copy>[^<]*ssh -L 8888:127\.0\.0\.1:8888 ", text), \
            f"{name}.md: show the SSH tunnel `ssh -L 8888:127.0.0.1:8888 ...` in a <copy> block"
        assert "make lab" in text and "make test" in text, f"{name}.md: show the two commands"


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------

def _sha256(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _copy_of_the_tools(root: Path) -> None:
    """tools/figures and labkit in a scratch root: each script then writes to root/images."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "tools" / "figures", root / "tools" / "figures", ignore=ignore)
    shutil.copytree(ROOT / "notebooks" / "labkit", root / "notebooks" / "labkit", ignore=ignore)


def test_figures_are_generated_and_deterministic(tmp_path):
    """`make images` twice gives the same files, and makes every file in images/.

    The scripts run from two scratch copies of tools/figures (they write next to themselves,
    in <copy>/images), so the repository is not touched. The data come from the usual folder.
    """
    scripts = sorted(p.name for p in (ROOT / "tools" / "figures").glob("*.py"))
    assert scripts, "no scripts in tools/figures"
    roots = [tmp_path / "first", tmp_path / "second"]
    for root in roots:
        _copy_of_the_tools(root)
    env = dict(os.environ, MPLBACKEND="Agg",
               LAB_DATA_DIR=os.environ.get("LAB_DATA_DIR", str(ROOT / "data")))

    def draw(job):
        root, script = job
        return subprocess.run([sys.executable, str(root / "tools" / "figures" / script)], cwd=root,
                              env=env, capture_output=True, text=True, timeout=300)

    jobs = [(root, s) for s in scripts for root in roots]
    with ThreadPoolExecutor(max_workers=max(2, min(8, os.cpu_count() or 2))) as pool:
        results = list(pool.map(draw, jobs))
    for (root, script), r in zip(jobs, results):
        assert r.returncode == 0, f"tools/figures/{script} failed:\n{r.stdout}\n{r.stderr}"

    first, second = (_sha256(root / "images") for root in roots)
    assert first == second, "drawing the figures twice gave different files: " + ", ".join(
        name for name in first if first[name] != second.get(name))
    committed = {p.name for p in (ROOT / "images").iterdir() if p.is_file()}
    assert committed <= set(first), \
        f"images/ holds files no script in tools/figures draws: {sorted(committed - set(first))}"
    for name in first:
        assert name.endswith((".png", ".gif")), f"unexpected figure {name}"
        assert (tmp_path / "first" / "images" / name).stat().st_size < 1_000_000, f"{name} is over 1 MB"
