"""The workshop on a free GPU: Google Colab and Kaggle.

    python tools/cloud.py            report what is out of date (exit 1 if anything is)
    python tools/cloud.py --write    bring every notebook, the README and the labs up to date

Three things are generated here from labs/variables/variables.json (`repo_url`, `repo_ref`), so that
setting the repository address once sets them all, and tests/test_cloud.py checks that they are current:

1. The setup cell: the first code cell of every notebook, the same lines everywhere (notebook 00
   explains them). On Colab or Kaggle only, it fetches the workshop at `repo_ref` (the branch or tag
   the notebook was published from), installs labkit from it, and moves into its notebooks/ folder,
   so that `import labkit`, the pictures' files, `train_ddp.py` and the data folder are where the
   notebook expects them. Anywhere else (JupyterLab, VS Code, a class hub, CI) it does nothing.
2. The pictures: a notebook opened alone (as Colab and Kaggle open it) cannot follow a relative link
   such as `../images/network.png`, so each picture a notebook shows travels inside it as a cell
   attachment (`attachment:network.png`), copied from images/ (where tools/figures/ draws it).
   JupyterLab, Colab, Kaggle and GitHub all show attachments.
3. The "Open in Colab" and "Open in Kaggle" links: one per notebook in the README's table, in
   notebook 00's map and in each lab.
"""

from __future__ import annotations

import argparse
import base64
import json
import mimetypes
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
IMAGES = ROOT / "images"
VARIABLES = ROOT / "labs" / "variables" / "variables.json"
SETUP_ID = "cloud-setup"
ABOUT_ID = "cloud-setup-about"
ABOUT = """**On Google Colab or Kaggle?** Run the next cell first. It fetches the rest of the workshop
with `git clone` (the notebook's own version), installs the helper package `labkit` with
`pip install -e`, and moves into its `notebooks/` folder. Anywhere else it does nothing. Every notebook
starts with this cell. Choose a GPU runtime before you run it: the lab *Run on a free GPU* shows how."""

LAB_NOTEBOOK = {"setup-check": "00_setup_check", "tensors": "01_tensors",
                "datasets-and-dataloaders": "02_datasets_and_dataloaders",
                "convolutional-networks": "03_convolutional_networks", "loss-and-optimizer": "04_loss_and_optimizer",
                "training-and-evaluation": "05_training_and_evaluation", "gpu-acceleration": "06_gpu_acceleration",
                "scaling-out": "07_scaling_out"}

SETUP_TEMPLATE = '''\
# On Google Colab or Kaggle only: fetch the workshop and install labkit. Anywhere else this does nothing.
import os, site, subprocess, sys, sysconfig
WORKSHOP_URL, WORKSHOP_REF = "{url}", "{ref}"
if ("google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ
        or "KAGGLE_KERNEL_RUN_TYPE" in os.environ) and not os.path.isdir("labkit"):
    home = "/content" if "KAGGLE_KERNEL_RUN_TYPE" not in os.environ else "/kaggle/working"
    folder = os.path.join(os.environ.get("LAB_WORKSHOP_DIR", home), "{folder}")
    if not os.path.isdir(folder):
        subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", WORKSHOP_REF,
                        WORKSHOP_URL, folder], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation",
                    "-e", folder], check=True)
    site.addsitedir(sysconfig.get_paths()["purelib"])   # this running kernel sees the new install too
    os.chdir(os.path.join(folder, "notebooks"))
    print("The workshop", WORKSHOP_REF, "is in", folder, "and labkit is installed.")'''


def variables() -> dict:
    values = json.loads(VARIABLES.read_text(encoding="utf-8"))
    values.setdefault("repo_ref", "main")
    return values


def setup_source(values: dict | None = None) -> str:
    v = values or variables()
    return SETUP_TEMPLATE.format(url=v["repo_url"], ref=v["repo_ref"], folder=v["repo_dir"])


def _github_path(values: dict) -> str:
    m = re.match(r"https://github\.com/([^/]+/[^/]+?)/?$", values["repo_url"])
    if not m:
        raise ValueError(f"repo_url {values['repo_url']!r} is not a GitHub address: Colab and Kaggle open "
                         "notebooks from GitHub")
    return m[1]


def colab_url(notebook: str, values: dict | None = None) -> str:
    v = values or variables()
    return f"https://colab.research.google.com/github/{_github_path(v)}/blob/{v['repo_ref']}/notebooks/{notebook}.ipynb"


def kaggle_url(notebook: str, values: dict | None = None) -> str:
    v = values or variables()
    return (f"https://www.kaggle.com/kernels/welcome?src=https://github.com/{_github_path(v)}/blob/"
            f"{v['repo_ref']}/notebooks/{notebook}.ipynb")


def links(notebook: str, values: dict | None = None) -> str:
    """The Markdown both links make, as written in the README, notebook 00 and the labs."""
    return f"[Colab]({colab_url(notebook, values)}) · [Kaggle]({kaggle_url(notebook, values)})"


# ------------------------------------------------------------------------------------------
# Notebooks: the setup cell and the pictures
# ------------------------------------------------------------------------------------------

PICTURE = re.compile(r"!\[([^\]]*)\]\((?:\.\./images/|attachment:)([\w.-]+\.(?:png|gif|jpg|svg))((?:\s+\"[^\"]*\")?)\)")


def _source(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def updated_notebook(nb: dict, values: dict | None = None, explain: bool = False) -> dict:
    """The notebook with the current setup cell first among its code cells and its pictures attached."""
    cells = [c for c in nb["cells"] if c.get("id") not in (SETUP_ID, ABOUT_ID)]
    setup = {"cell_type": "code", "id": SETUP_ID, "metadata": {"tags": ["cloud-setup"]},
             "source": setup_source(values).splitlines(keepends=True), "outputs": [], "execution_count": None}
    first_md = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown")
    cells.insert(first_md + 1, setup)
    if nb.get("metadata", {}).get("lab_notebook") == "00" or explain:
        cells.insert(first_md + 1, {"cell_type": "markdown", "id": ABOUT_ID, "metadata": {},
                                    "source": ABOUT.splitlines(keepends=True)})
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        text = _source(cell)
        names = [m[2] for m in PICTURE.finditer(text)]
        if not names:
            cell.pop("attachments", None)
            continue
        new = PICTURE.sub(lambda m: f"![{m[1]}](attachment:{m[2]}{m[3]})", text)
        cell["source"] = new.splitlines(keepends=True)
        cell["attachments"] = {}
        for name in names:
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
            data = base64.b64encode((IMAGES / name).read_bytes()).decode("ascii")
            cell["attachments"][name] = {mime: data}
    return {**nb, "cells": cells}


def notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def dump(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------------------------------
# Links in the README, notebook 00's map and the labs
# ------------------------------------------------------------------------------------------

LINKS = re.compile(r"\[Colab\]\(https://colab\.research\.google\.com/[^)]*\) · \[Kaggle\]\(https://www\.kaggle\.com/[^)]*\)")
README_ROW = re.compile(r"^(\| \[(\d\d_\w+)\]\(notebooks/\d\d_\w+\.ipynb\) \|)([^\n]*)$", re.M)
MAP_ROW = re.compile(r"^(\| \[\d\d · [^\]]*\]\((\d\d_\w+)\.ipynb\) \|)([^\n]*)$", re.M)
LAB_LINE = {False: "Open the notebook on a free GPU: {links}.", True: "Ouvrir le notebook sur un GPU gratuit\u00a0: {links}."}


def _with_links(row_head: str, name: str, rest: str, values) -> str:
    """A table row whose last cell is the links (added as a new last column the first time)."""
    cells = rest.rstrip().rstrip("|").rstrip().split(" | ")
    link = links(name, values)
    if LINKS.fullmatch(cells[-1].strip()):
        cells[-1] = link
        return row_head + " | ".join(cells) + " |"
    return row_head + rest.rstrip().rstrip("|").rstrip() + f" | {link} |"


def updated_table(text: str, row: re.Pattern, values) -> str:
    text = row.sub(lambda m: _with_links(m[1], m[2], m[3], values), text)
    lines = text.split("\n")
    for i, line in enumerate(lines):          # the header and rule rows gain the column once
        if line.startswith("| notebook |") and "free GPU" not in line and i + 1 < len(lines):
            lines[i] = line.rstrip() + " free GPU |"
            lines[i + 1] = lines[i + 1].rstrip() + " --- |"
    return "\n".join(lines)


def updated_lab(text: str, name: str, french: bool, values) -> str:
    line = LAB_LINE[french].format(links=links(name, values))
    if LINKS.search(text):
        return re.sub(r"^.*" + LINKS.pattern + r".*$", line.replace("\\", r"\\"), text, count=1, flags=re.M)
    # the first time: after the Estimated Time line (Durée estimée in French)
    return re.sub(r"^((?:Estimated Time|Durée estimée).*)$", lambda m: m[1] + "\n\n" + line, text, count=1, flags=re.M)


def plan(values: dict | None = None, only: list[Path] | None = None) -> dict[Path, str]:
    """Every file whose generated parts are out of date, with its new text (`only`: just these notebooks)."""
    values = values or variables()
    out = {}
    for path in (only or notebooks()):
        old = path.read_text(encoding="utf-8")
        nb = updated_notebook(json.loads(old), values, explain=path.name.startswith("00_"))
        if path.name.startswith("00_"):
            for cell in nb["cells"]:
                if cell["cell_type"] == "markdown" and MAP_ROW.search(_source(cell)):
                    cell["source"] = updated_table(_source(cell), MAP_ROW, values).splitlines(keepends=True)
        new = dump(nb)
        if new != old:
            out[path] = new
    if only:
        return out
    readme = ROOT / "README.md"
    old = readme.read_text(encoding="utf-8")
    new = updated_table(old, README_ROW, values)
    if new != old:
        out[readme] = new
    for lab, name in LAB_NOTEBOOK.items():
        for french in (False, True):
            path = ROOT / "labs" / lab / f"{lab}{'_fr' if french else ''}.md"
            if not path.exists():
                continue
            old = path.read_text(encoding="utf-8")
            new = updated_lab(old, name, french, values)
            if new != old:
                out[path] = new
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="only these notebooks (default: everything)")
    parser.add_argument("--write", action="store_true", help="write the changes (default: only report them)")
    args = parser.parse_args(argv)
    changes = plan(only=[p.resolve() for p in args.notebooks] or None)
    for path, text in changes.items():
        rel = path.relative_to(ROOT)
        if args.write:
            path.write_text(text, encoding="utf-8")
            print(f"updated {rel}")
        else:
            print(f"out of date: {rel}")
    if changes and not args.write:
        print("Run: python tools/cloud.py --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
