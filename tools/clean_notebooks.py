"""Strip outputs from the workshop's notebooks before committing them.

    python tools/clean_notebooks.py                 clean every notebooks/*.ipynb in place
    python tools/clean_notebooks.py NB.ipynb ...    clean only these notebooks
    python tools/clean_notebooks.py --check         only report; exit 1 if any notebook is not clean

Cells whose output nbval compares carry the cell tag ``nbval-check-output`` (in the cell's
metadata, so the learner's code holds no test markers); they keep their outputs and execution
counts: nbval needs them. Every other code cell loses its outputs and execution count.
A ``# NBVAL_...`` comment marker in a cell's code is reported by --check: use nbval's cell tags
(``nbval-check-output``, ``nbval-skip``, ``raises-exception``) instead.
"""

import json
import re
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CHECK_TAG = "nbval-check-output"
COMMENT_MARKER = re.compile(r"#\s*NBVAL_[A-Z_]+")


def is_checked(cell) -> bool:
    return CHECK_TAG in cell.get("metadata", {}).get("tags", [])


def problems(nb) -> list[str]:
    found = []
    if "widgets" in nb.get("metadata", {}):
        found.append("the notebook metadata holds saved widget state")
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        marker = COMMENT_MARKER.search("".join(cell.get("source", "")))
        if marker:
            found.append(f"cell {i} holds the comment marker '{marker.group()}': "
                         f"use the cell tag {CHECK_TAG!r} (metadata.tags) instead")
        if is_checked(cell):
            if not cell.get("outputs") or cell.get("execution_count") is None:
                found.append(f"cell {i} is checked by nbval but has no committed output")
        elif cell.get("outputs") or cell.get("execution_count") is not None:
            found.append(f"cell {i} has outputs or an execution count")
    return found


def clean(nb) -> None:
    nb.get("metadata", {}).pop("widgets", None)   # saved widget state (progress bars, timings)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and not is_checked(cell):
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)


def main(argv) -> int:
    check_only = "--check" in argv
    status = 0
    paths = [Path(a) for a in argv if not a.startswith("--")] or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        nb = json.loads(path.read_text())
        if check_only:
            for p in problems(nb):
                print(f"{path.name}: {p}")
                status = 1
        else:
            clean(nb)
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
