"""The LiveLabs guides in labs/ and the figures in images/.

What is checked, and why:

* LiveLabs packaging: each ``labs/workshops/<kind>/`` holds the ``index.html`` the LiveLabs renderer
  needs and a ``manifest.json`` in its schema (kinds named as LiveLabs names them today, ``tenancy`` and
  ``sandbox``, or this workshop's own ``local`` and ``instructor``), whose labs exist; every lab is in a
  manifest; the help link is this project's issue tracker, never the original workshop's mailbox;
* one repository address and one clone folder: the ``variables`` file the manifests name defines
  ``repo_url`` and ``repo_dir``; every ``[](var:NAME)`` a lab uses is defined; no ``<repository-url>``
  placeholder is left, every ``git clone`` uses the variables, and no copied command spells the folder out;
* each lab reads like a LiveLabs guide: its sections in the usual order, tasks numbered 1, 2, 3...,
  "You may now proceed to the next lab." right before Learn More, the workshop time in the introduction;
* every image has alt text, every relative link resolves, links between labs use ``?lab=<name>``;
* every ``make X`` and ``python -m labkit VERB --option`` a lab tells a learner to run exists (the
  Makefile's targets, labkit's argparse verbs and options), every file a command names exists, no
  command needs ``cd notebooks``, and every notebook section a lab names is a heading of that notebook;
* the commands a learner copies run in the order given: the setup labs clone before they use the clone,
  create ``.venv`` before they use it; the GPU lab checks, in order, the driver, PyTorch's CUDA build
  (with a one-liner that prints False instead of crashing), the data, ``LAB_DEVICE=cuda make check`` and
  ``make gpu-check``, and states the driver that the pinned CUDA build needs;
* Windows: PowerShell forms where bash syntax would fail (``ssh-keygen`` with ``~``, ``VAR=value``);
* no lab starts JupyterLab on a public interface or without a token; the cloud labs use an SSH tunnel;
* the project has a LICENSE;
* every figure in images/ is drawn by a script in tools/figures/, the same bytes as committed (with the
  pinned matplotlib), and the scripts that use data or random numbers give the same bytes twice.
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
MANIFESTS = sorted(WORKSHOPS.glob("*/manifest.json"))  # the English ones; translations are manifest_xx.json
# The English labs: labs/<name>/<name>.md. Translations sit beside them as <name>_<language>.md.
LAB_FILES = sorted(p for p in LABS.glob("*/*.md")
                   if p.parent.name != "workshops" and p.stem == p.parent.name)
CLOUD_LABS = ("setup-cpu-instance", "setup-gpu-instance")
SETUP_LABS = ("setup-cpu-instance", "setup-gpu-instance", "run-locally")
KINDS = {"tenancy", "sandbox", "local", "instructor"}  # LiveLabs' own two, and this workshop's two
# LiveLabs' shared labs and renderer, linked by URL: the GitHub Pages address, or the CDN that upstream
# workshops moved to in 2026 (oracle-livelabs/oci-hpc 3b95bf9, 09234fa); either is accepted.
COMMON_LABS = ("https://oracle-livelabs.github.io/common/", "https://livelabs.oracle.com/cdn/common/")
VARIABLE = re.compile(r"\[\]\(var:([A-Za-z0-9_]+)\)")


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


def split_commands(snippet: str) -> list[str]:
    """Shell command lines (comments stripped, a leading `$ ` dropped, split at && ; || and |)."""
    lines = []
    for line in snippet.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        line = re.sub(r"^\$\s+", "", line)
        lines.extend(part.strip() for part in re.split(r"&&|;|\|\||\|", line) if part.strip())
    return lines


def command_lines(text: str) -> list[str]:
    """Every command line in the lab's code, inline code included."""
    return [line for snippet in code_snippets(text) for line in split_commands(snippet)]


def copied_commands(text: str) -> list[str]:
    """The command lines of the <copy> blocks, in the order a learner meets them."""
    text = re.sub(r"^([ \t]*)> ?", r"\1", text, flags=re.M)
    return [line for block in re.findall(r"<copy>(.*?)</copy>", text, re.S) for line in split_commands(block)]


def variables() -> dict[str, str]:
    """The LiveLabs variables every manifest loads (they must agree)."""
    values: dict[str, str] = {}
    for manifest in MANIFESTS:
        for name in json.loads(read(manifest)).get("variables", []):
            for key, value in json.loads(read(manifest.parent / name)).items():
                assert values.get(key, value) == value, f"{name}: {key} differs between variables files"
                values[key] = value
    return values


# --------------------------------------------------------------------------------------------
# LiveLabs packaging: workshop folders, index.html, manifests, variables
# --------------------------------------------------------------------------------------------

def test_there_are_workshops_and_labs():
    kinds = {p.parent.name for p in MANIFESTS}
    assert "tenancy" in kinds, f"a workshops/tenancy/ (run in your own OCI tenancy) is needed, found {kinds}"
    assert kinds <= KINDS, f"workshop kinds {sorted(kinds - KINDS)}: LiveLabs names them tenancy/sandbox today"
    assert not {"freetier", "livelabs"} & {p.name for p in WORKSHOPS.iterdir()}, "old kind names: rename them"
    assert len(LAB_FILES) >= 12, f"expected the workshop's labs in labs/*/*.md, found {LAB_FILES}"
    for folder in (p for p in LABS.iterdir() if p.is_dir() and p.name not in ("workshops", "variables")):
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", folder.name), f"{folder}: lab folders are lowercase-dashed"
        for md in folder.glob("*.md"):
            assert re.fullmatch(rf"{re.escape(folder.name)}(_[a-z]{{2}})?\.md", md.name), \
                f"{md}: a lab is <folder>.md, a translation <folder>_<language>.md"
        assert (folder / f"{folder.name}.md").is_file(), f"{folder}: no {folder.name}.md"


@pytest.mark.parametrize("workshop", sorted(p.parent for p in MANIFESTS), ids=lambda p: p.name)
def test_workshop_folder_has_the_livelabs_index_html(workshop):
    """The LiveLabs renderer is an index.html next to the manifest that loads LiveLabs' main.js."""
    html = workshop / "index.html"
    assert html.is_file(), f"{workshop.relative_to(ROOT)}: LiveLabs needs an index.html beside manifest.json"
    text = read(html)
    assert re.search(r'<script src="https://(oracle-livelabs\.github\.io|livelabs\.oracle\.com/cdn)/common/redwood-hol/js/main\.min\.js">', text)
    assert "redwood-hol/js/jquery" in text and "redwood-hol/css/style.min.css" in text
    # the elements main.js fills in
    for element in ('id="leftNav"', 'id="contentBox"', 'id="module-content"', 'class="hol-Header-wrap"',
                    'class="hol-Header-logo"', 'class="hol-Header-actions"', 'id="openNav"',
                    'class="hol-Footer-topLink"', 'class="footer-links"'):
        assert element in text, f"{html.relative_to(ROOT)}: the renderer needs {element}"


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.parent.name)
def test_manifest_schema_and_files(manifest):
    data = json.loads(read(manifest))
    assert isinstance(data, dict), f"{manifest}: the top level must be an object"
    assert isinstance(data.get("workshoptitle"), str) and data["workshoptitle"].strip()
    # LiveLabs turns "help" into a mailto: link; this project has an issue tracker instead ("support").
    assert "livelabs-help" not in json.dumps(data), f"{manifest}: that is the original workshop's mailbox"
    if "help" in data:
        assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", data["help"]), f"{manifest}: help is an email address"
    assert data.get("support") == variables()["repo_url"] + "/issues", \
        f"{manifest}: support must be the project's issue tracker, [](var:repo_url)/issues"
    assert data.get("variables"), f"{manifest}: name the variables file(s)"
    for name in data["variables"]:
        assert (manifest.parent / name).is_file(), f"{manifest}: variables file {name} does not exist"
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
        if re.match(r"[a-z]+://", t["filename"]):
            assert t["filename"].startswith(COMMON_LABS), f"{where}: only LiveLabs' common labs are linked by URL"
            continue
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


def test_one_repository_address_and_one_clone_folder():
    values = variables()
    assert {"repo_url", "repo_dir"} <= set(values), "variables.json defines repo_url and repo_dir"
    url, folder = values["repo_url"], values["repo_dir"]
    assert re.fullmatch(r"https://[\w.-]+/[\w./-]+[\w-]", url) and not url.endswith(".git"), \
        f"repo_url {url!r}: an https address, without .git or a trailing slash (the issues page is repo_url/issues)"
    assert re.fullmatch(r"[\w][\w.-]*", folder), f"repo_dir {folder!r}: one folder name"
    assert url.rsplit("/", 1)[1] == folder, "repo_dir is the folder `git clone` makes from repo_url"


@pytest.mark.parametrize("lab", LAB_FILES, ids=lab_id)
def test_the_repository_is_named_by_its_variables(lab):
    text, values = read(lab), variables()
    for name in VARIABLE.findall(text):
        assert name in values, f"{lab.name}: [](var:{name}) is not defined in labs/variables/"
    placeholder = re.search(r"<[a-z-]*repo[a-z-]*(url|address)[a-z-]*>", text, re.I)
    assert not placeholder, f"{lab.name}: {placeholder.group(0)}: use [](var:repo_url)"
    folder = re.compile(rf"(?<![\w-]){re.escape(values['repo_dir'])}(?![\w-])")
    for line in copied_commands(text):
        if re.match(r"(sudo\s+)?git clone\s", line) and "http" in line or "[](var:repo_url)" in line:
            assert re.match(r"(sudo\s+)?git clone \[\]\(var:repo_url\) \S*\[\]\(var:repo_dir\)$", line), \
                f"{lab.name}: `{line}`: clone with `git clone [](var:repo_url) [](var:repo_dir)`"
        assert not folder.search(line), \
            f"{lab.name}: `{line}`: write the clone folder as [](var:repo_dir), not {values['repo_dir']}"


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

    time = r"^Estimated Workshop Time: \d+ hours?( \d+ minutes)?" if lab_id(lab) == "introduction" \
        else r"^Estimated Time: \d+ (minutes|hours?)"
    order = [
        position(r"^## Introduction\s*$", "'## Introduction'"),
        position(time, "the estimated time ('Estimated Workshop Time: N hours M minutes' in the introduction)"),
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
    prerequisites = text[order[3]:order[4]]
    assert not re.search(r"Completed the labs? \*", prerequisites), \
        f"{lab.name}: do not list previous labs one by one ('All previous labs successfully completed')"


def last_in_every_manifest(lab: Path) -> bool:
    lasts, listed = [], []
    for manifest in MANIFESTS:
        files = [(manifest.parent / t["filename"]).resolve() for t in json.loads(read(manifest))["tutorials"]
                 if not t["filename"].startswith("http")]
        if lab.resolve() in files:
            listed.append(manifest)
            lasts.append(files[-1] == lab.resolve())
    return bool(listed) and all(lasts)


@pytest.mark.parametrize("lab", LAB_FILES, ids=lab_id)
def test_proceed_to_the_next_lab(lab):
    """LiveLabs ends a lab's content with this line, right before Learn More (not in the last lab)."""
    text = without_code_blocks(read(lab))
    before_learn_more = text[:text.index("\n## Learn More")].rstrip().splitlines()[-1]
    if last_in_every_manifest(lab):
        assert "proceed to the next lab" not in text, f"{lab.name} is the last lab"
    else:
        assert before_learn_more == "You may now **proceed to the next lab**.", \
            f"{lab.name}: end with 'You may now **proceed to the next lab**.' right before '## Learn More'"


def test_the_introduction_gives_help_that_belongs_to_this_project():
    text = read(LABS / "introduction" / "introduction.md")
    assert "`[](var:repo_url)/issues`" in text, "introduction: say where to ask for help: `[](var:repo_url)/issues`"


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


def lab_names() -> set[str]:
    return {Path(t["filename"]).stem for m in MANIFESTS for t in json.loads(read(m))["tutorials"]}


@pytest.mark.parametrize("lab", LAB_FILES, ids=lab_id)
def test_images_have_alt_text_and_exist(lab):
    text = read(lab)
    for alt, target in IMAGE.findall(text):
        assert len(alt.split()) >= 3, f"{lab.name}: image {target} needs descriptive alt text, not {alt!r}"
        assert not re.match(r"[a-z]+://", target), f"{lab.name}: {target}: images live in the repository"
        path = (lab.parent / target).resolve()
        assert path.is_file(), f"{lab.name}: image {target} does not exist ({path})"


@pytest.mark.parametrize("lab", LAB_FILES, ids=lab_id)
def test_links_resolve(lab):
    """Relative links point to files; links between labs are LiveLabs' ?lab=<name>, to a listed lab."""
    text = without_code_blocks(read(lab))
    for target in LINK.findall(text) + [t for _, t in IMAGE.findall(text)]:
        if target.startswith("?lab="):
            assert target[5:].split("#")[0] in lab_names(), f"{lab.name}: {target}: no such lab in a manifest"
            continue
        if re.match(r"[a-z]+:", target) or target.startswith(("#", "[](var:")):
            continue  # web addresses, mailto:, variables, and anchors in the same page
        assert not target.endswith(".md") and ".md#" not in target, \
            f"{lab.name}: {target}: link to another lab with ?lab=<name> (the renderer shows .md files raw)"
        assert not target.endswith(".ipynb"), \
            f"{lab.name}: {target}: name the notebook (`{Path(target).name}`); learners open it in JupyterLab"
        path = (lab.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{lab.name}: the link {target} points to nothing ({path})"
        assert ROOT in path.parents, f"{lab.name}: the link {target} leaves the repository"


@pytest.mark.parametrize("lab", LAB_FILES, ids=lab_id)
def test_named_notebooks_exist(lab):
    """Every notebook a lab names, linked or not (`03_convolutional_networks.ipynb`), is in notebooks/."""
    for name in set(re.findall(r"\b(\d\d_[a-z0-9_]+\.ipynb)\b", read(lab))):
        assert (ROOT / "notebooks" / name).is_file(), f"{lab.name}: names {name}, which is not in notebooks/"


def notebook_headings(name: str) -> list[str]:
    cells = json.loads(read(ROOT / "notebooks" / name))["cells"]
    return [line.lstrip("#").strip().replace("`", "")
            for cell in cells if cell["cell_type"] == "markdown"
            for line in "".join(cell["source"]).splitlines() if line.startswith("#")]


@pytest.mark.parametrize("lab", LAB_FILES, ids=lab_id)
def test_named_sections_exist(lab):
    """`section **5. Broadcasting**` (or **6.1 ...**) is the start of a heading of the lab's notebook."""
    text = read(lab)
    notebooks = re.findall(r"\b(\d\d_[a-z0-9_]+\.ipynb)\b", text)
    if not notebooks:
        return
    headings = notebook_headings(notebooks[0])  # the notebook the lab walks through: the first it names
    for title in re.findall(r"\*\*(\d+(?:\.\d+)*\.? [A-Z`][^*]*?)\*\*", text):
        wanted = title.replace("`", "").strip()
        assert any(h.startswith(wanted) for h in headings), \
            f"{lab.name}: section {title!r} is not a heading of {notebooks[0]}"


# --------------------------------------------------------------------------------------------
# Commands a learner runs
# --------------------------------------------------------------------------------------------

def makefile_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9][A-Za-z0-9_-]*)\s*:(?!=)", read(ROOT / "Makefile"), re.M))


def labkit_help(*argv) -> str:
    """The help text of ``python -m labkit`` (argparse), without starting a process."""
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
# A file a command reads (scripts, requirement lists); files a command writes come after these options.
FILE_ARGUMENT = re.compile(r"^[\w./\\-]+\.(py|txt|yml|yaml|toml)$")
WRITTEN = ("--json", "--out", "--checkpoint", "-o", ">", "<")


@pytest.mark.parametrize("lab", LAB_FILES, ids=lab_id)
def test_commands_exist(lab):
    targets, verbs = makefile_targets(), labkit_verbs()
    assert {"lab", "test", "data", "check", "images", "gpu-check"} <= targets
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
        assert not re.search(r"(^|\s)cd notebooks\b|\.\./\.venv", line), \
            f"{lab.name}: `{line}`: every command runs from the repository's folder, never from notebooks/"


@pytest.mark.parametrize("lab", LAB_FILES, ids=lab_id)
def test_files_a_command_reads_exist(lab):
    """`-r requirements.txt`, `notebooks/train_ddp.py`...: paths from the repository's folder."""
    for line in copied_commands(read(lab)):
        words = line.split()
        for before, word in zip([""] + words, words):
            if FILE_ARGUMENT.match(word) and before not in WRITTEN and not word.startswith(("~", "/", "$")):
                assert (ROOT / word.replace("\\", "/")).exists(), \
                    f"{lab.name}: `{line}`: {word} is not in the repository"


def test_windows_gets_powershell_forms():
    """bash-only forms have a PowerShell twin in the same lab: ssh-keygen without ~, $env: settings."""
    for lab in LAB_FILES:
        copied = copied_commands(read(lab))
        if any(line.startswith("ssh-keygen") and "~" in line for line in copied):
            assert any(line.startswith("ssh-keygen") and "$HOME" in line for line in copied), \
                f"{lab.name}: PowerShell's ssh-keygen does not expand ~: give the \"$HOME\\.ssh\\...\" form"
    text = read(LABS / "run-locally" / "run-locally.md")
    for command in ('py -3 -m venv .venv', r'.venv\Scripts\python tools\check_python.py 3.11 3.14 windows',
                    r'.venv\Scripts\python -m pip install -r requirements.txt -c constraints.txt -e .',
                    r'.venv\Scripts\python -m labkit prepare-offline',
                    r'.venv\Scripts\jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=8888 '
                    r'--ServerApp.port_retries=0 --LabApp.default_url=/lab/tree/notebooks',
                    '$env:LAB_PROFILE="quick"', "wsl --install"):
        assert command in text, f"run-locally.md: the Windows steps need `{command}`"


# Commands that need the clone, and commands that need .venv (make creates .venv on its first run).
NEEDS_CLONE = re.compile(r"^((\w+=\S+\s+)*make\b|\.venv[/\\]|python3?[\d.]* -m venv \.venv|py -3)")
MAKES_VENV = re.compile(r"^((\w+=\S+\s+)*make (lab|test|data|check|images|timings)\b|python3?[\d.]* -m venv \.venv"
                        r"|py -3[\d.]* -m venv \.venv)")
USES_VENV = re.compile(r"^(\w+=\S+\s+)*\.venv[/\\]")


@pytest.mark.parametrize("name", SETUP_LABS)
def test_setup_commands_run_in_order(name):
    """A learner who copies the commands top to bottom clones before using the clone, makes .venv before using it."""
    cloned = venv = False
    for line in copied_commands(read(LABS / name / f"{name}.md")):
        if line.startswith("git clone"):
            cloned = True
        if NEEDS_CLONE.match(line):
            assert cloned, f"{name}.md: `{line}` comes before the `git clone` that makes its folder"
        if USES_VENV.match(line):
            assert venv, f"{name}.md: `{line}` uses .venv before any command creates it"
        if MAKES_VENV.match(line):
            venv = True
    assert cloned, f"{name}.md: no `git clone [](var:repo_url) [](var:repo_dir)`"


def test_gpu_lab_checks_in_order():
    """Driver, then PyTorch's CUDA build, then data, then the workshop's device check, then every GPU path."""
    text = read(LABS / "setup-gpu-instance" / "setup-gpu-instance.md")
    copied = copied_commands(text)

    def first(predicate, what):
        for i, line in enumerate(copied):
            if predicate(line):
                return i
        raise AssertionError(f"setup-gpu-instance.md: no <copy> command for {what}")

    steps = [
        first(lambda c: c.startswith("nvidia-smi"), "the driver check (nvidia-smi)"),
        first(lambda c: "torch.cuda.is_available()" in c, "PyTorch's CUDA build"),
        first(lambda c: c == "make data", "make data"),
        first(lambda c: c == "LAB_DEVICE=cuda make check", "LAB_DEVICE=cuda make check"),
        first(lambda c: re.match(r"make gpu-check\b", c), "make gpu-check"),
    ]
    assert steps == sorted(steps), f"setup-gpu-instance.md: the checks are out of order: {steps}"
    early = [c for c in copied[:steps[-1]] if re.search(r"make (test|lab)\b|pytest", c)]
    assert not early, f"setup-gpu-instance.md: {early} before the GPU checks: they pass on a CPU too"
    one_liner = copied[steps[1]]
    assert "get_device_name" not in one_liner or re.search(r"get_device_name\(0\) if \w+ else", one_liner), \
        "the CUDA check must print False with advice, not crash in get_device_name(0) when there is no GPU"
    # The driver that the pinned CUDA build needs is stated, and matches what constraints.txt installs.
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", read(ROOT / "constraints.txt"), re.M))
    torch_pin = pins["torch"].split("+")[0]
    cuda = ".".join(pins["cuda-toolkit"].split(".")[:2]) if "cuda-toolkit" in pins else None
    assert f"torch {torch_pin}" in text, f"setup-gpu-instance.md: name the torch that pip installs ({torch_pin})"
    if cuda:
        assert f"CUDA {cuda}" in text, f"setup-gpu-instance.md: torch {torch_pin} is built with CUDA {cuda}: say so"
        minimum = {"12": "525", "13": "580"}[cuda.split(".")[0]]
        assert f"{minimum} or newer" in text, f"setup-gpu-instance.md: CUDA {cuda} needs driver {minimum} or newer"


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
        assert re.search(r"<copy>ssh -o ExitOnForwardFailure=yes -L 8888:127\.0\.0\.1:8888 ", text), \
            f"{name}.md: show the SSH tunnel `ssh -o ExitOnForwardFailure=yes -L 8888:127.0.0.1:8888 ...`"
        assert "make lab" in text, f"{name}.md: show `make lab`"
    assert "make test" in read(LABS / "setup-cpu-instance" / "setup-cpu-instance.md")


def test_instructor_agenda_has_one_row_per_notebook():
    """The agenda lists every notebook once, 00 to 07, in order.

    Its times (live, on your own) and core paths are written by tools/pace.py from the notebooks and
    checked by tests/test_pace.py; this test only checks that the table is there and complete.
    """
    agenda = read(LABS / "for-instructors" / "for-instructors.md")
    numbers = re.findall(r"^ *\| [^|]+ \| `(\d\d)_[a-z0-9_]+\.ipynb` \|", agenda, re.M)
    expected = sorted(p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert numbers == expected, f"for-instructors.md: the agenda lists notebooks {numbers}, expected {expected}"


def test_the_project_has_a_license():
    text = read(ROOT / "LICENSE")
    assert "Universal Permissive License" in text and "BSD 3-Clause" in text, \
        "LICENSE: the project's license (UPL-1.0), and the BSD-3-Clause notice of the PyTorch tutorial lines"


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


# Scripts whose figures depend on data or on random numbers: drawn twice to prove they are deterministic.
RANDOM_OR_DATA = ("classes.py", "optimizers.py")


def _pinned(package: str) -> str | None:
    m = re.search(rf"^{re.escape(package)}==(\S+)", read(ROOT / "constraints.txt"), re.M | re.I)
    return m.group(1) if m else None


@pytest.mark.full
def test_figures_are_generated_deterministic_and_committed(tmp_path):
    """`make images` draws every file in images/, the same bytes as committed, and the same bytes twice.

    Each script runs from a scratch copy of tools/figures (they write next to themselves, in
    <copy>/images), so the repository is not touched; the scripts that use data or random numbers run
    twice. classes.py draws the offline stand-in (LAB_DATASET=synthetic), as the committed figure does.
    The drawn bytes are compared with the committed images/ when matplotlib is the version
    constraints.txt pins (another version renders other bytes); a stale figure then fails here.
    """
    import matplotlib

    scripts = sorted(p.name for p in (ROOT / "tools" / "figures").glob("*.py"))
    assert scripts, "no scripts in tools/figures"
    assert set(RANDOM_OR_DATA) <= set(scripts), f"tools/figures lacks {set(RANDOM_OR_DATA) - set(scripts)}"
    roots = [tmp_path / "first", tmp_path / "second"]
    for root in roots:
        _copy_of_the_tools(root)
    env = dict(os.environ, MPLBACKEND="Agg", LAB_DATASET="synthetic",
               LAB_DATA_DIR=os.environ.get("LAB_DATA_DIR", str(ROOT / "data")))

    def draw(job):
        root, script = job
        return subprocess.run([sys.executable, str(root / "tools" / "figures" / script)], cwd=root,
                              env=env, capture_output=True, text=True, timeout=300)

    jobs = [(roots[0], s) for s in scripts] + [(roots[1], s) for s in RANDOM_OR_DATA]
    with ThreadPoolExecutor(max_workers=max(2, min(8, os.cpu_count() or 2))) as pool:
        results = list(pool.map(draw, jobs))
    for (_root, script), r in zip(jobs, results):
        assert r.returncode == 0, f"tools/figures/{script} failed:\n{r.stdout}\n{r.stderr}"

    first, second = (_sha256(root / "images") for root in roots)
    assert second, "the scripts drawn twice wrote nothing"
    assert all(first.get(name) == digest for name, digest in second.items()), \
        "drawing the figures twice gave different files: " + ", ".join(
            name for name in second if first.get(name) != second[name])
    committed = _sha256(ROOT / "images")
    assert set(committed) <= set(first), \
        f"images/ holds files no script in tools/figures draws: {sorted(set(committed) - set(first))}"
    for name in first:
        assert name.endswith((".png", ".gif")), f"unexpected figure {name}"
        assert (tmp_path / "first" / "images" / name).stat().st_size < 1_000_000, f"{name} is over 1 MB"
    if _pinned("matplotlib") == matplotlib.__version__:
        stale = sorted(name for name in first if committed.get(name) != first[name])
        assert not stale, f"images/ is out of date with tools/figures: {stale}. Run `make images` and commit."
