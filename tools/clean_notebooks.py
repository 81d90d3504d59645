"""Strip outputs from the workshop's notebooks before committing them.

    python tools/clean_notebooks.py                 clean every notebooks/*.ipynb in place
    python tools/clean_notebooks.py NB.ipynb ...    clean only these notebooks
    python tools/clean_notebooks.py --check         only report; exit 1 if any notebook is not clean

Cells whose output nbval compares (marked ``# NBVAL_CHECK_OUTPUT`` or tagged
``nbval-check-output``) keep their outputs and execution counts: nbval needs them.
Every other code cell loses its outputs and execution count.
"""

import json
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def is_checked(cell) -> bool:
    return ("NBVAL_CHECK_OUTPUT" in "".join(cell.get("source", ""))
            or "nbval-check-output" in cell.get("metadata", {}).get("tags", []))


def problems(nb) -> list[str]:
    found = []
    if "widgets" in nb.get("metadata", {}):
        found.append("the notebook metadata holds saved widget state")
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
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
