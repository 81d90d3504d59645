"""Time every workshop notebook: seconds to run and peak memory, each in a fresh kernel.

    python tools/time_notebooks.py --profile quick                 every notebooks/*.ipynb
    python tools/time_notebooks.py --profile quick,full            one table, two columns per profile
    python tools/time_notebooks.py --profile smoke notebooks/00_setup_check.ipynb
    python tools/time_notebooks.py --profile full --out table.md   choose where the table goes

Each notebook runs top to bottom in a new kernel of *this* Python (the interpreter that runs this
script, like nbval's --nbval-current-env), started in the notebook's folder, with
LAB_PROFILE=<profile> and LAB_DATASET=synthetic unless LAB_DATASET is set. Everything the notebooks
write goes to a temporary LAB_OUTPUT_DIR (unless LAB_OUTPUT_DIR is set); executed notebooks are kept
in memory only, never written into the checkout.

"seconds" is the wall time of the notebook's cells (kernel start-up not included); "peak RSS" is the
largest resident memory the kernel process reached (ru_maxrss, read in the kernel after the last cell;
DataLoader worker processes are not included). The Markdown table goes to --out (default:
benchmarks/results/notebook-times-<profile>.md, or notebook-times.md for several profiles), with the
date, machine, torch version and settings above it. The exit status is 1 if any notebook failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "benchmarks" / "results"
PROFILES = ("full", "quick", "smoke")

# Run in the kernel after the notebook's last cell: prints its peak resident memory in MB.
MEASURE = """\
import sys as _sys
try:
    import resource as _resource
    _peak = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss
    _peak = _peak / 2**20 if _sys.platform == "darwin" else _peak / 2**10   # bytes on macOS, KiB on Linux
except ImportError:                                                          # Windows
    import psutil as _psutil
    _peak = _psutil.Process().memory_info().peak_wset / 2**20
print("LAB_PEAK_RSS_MB", round(_peak, 1))
"""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    load = ""
    if hasattr(os, "getloadavg"):
        load = f", load average {os.getloadavg()[0]:.1f} at the start"
    return f"{cpu_model()}, {cores} cores ({usable} usable){load}, {platform.system()} {platform.machine()}"


def time_notebook(path: Path, timeout: int) -> tuple[float, float]:
    """Run one notebook in a fresh kernel; return (seconds for its cells, peak RSS in MB)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    measure = nbformat.v4.new_code_cell(MEASURE)
    client.reset_execution_trackers()
    with client.setup_kernel():
        client.wait_for_reply(client.kc.kernel_info())
        start = time.perf_counter()
        for index, cell in enumerate(list(nb.cells)):
            client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        seconds = time.perf_counter() - start
        nb.cells.append(measure)   # in memory only: the notebook file is never written
        client.execute_cell(measure, len(nb.cells) - 1)
    text = "".join(o.get("text", "") for o in measure.outputs if o.get("output_type") == "stream")
    peak = float(text.split("LAB_PEAK_RSS_MB")[1].split()[0])
    return seconds, peak


def table(rows: dict, profiles: list[str]) -> str:
    head = "| notebook | " + " | ".join(f"{p}: seconds | {p}: peak RSS (MB)" for p in profiles) + " |"
    rule = "| --- |" + " ---: | ---: |" * len(profiles)
    lines = [head, rule]
    for name, by_profile in rows.items():
        cells = []
        for p in profiles:
            r = by_profile.get(p)
            if r is None:
                cells += ["", ""]
            elif isinstance(r, str):
                cells += [r, ""]
            else:
                cells += [f"{r[0]:.1f}" if r[0] < 10 else f"{r[0]:.0f}", f"{r[1]:.0f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    parser.add_argument("--profile", action="append",
                        help="full, quick or smoke; repeat it or separate by commas (default: quick)")
    parser.add_argument("--out", type=Path, help="where to write the Markdown table")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")
    args = parser.parse_args(argv)
    args.profile = [p.strip() for arg in (args.profile or ["quick"]) for p in arg.split(",") if p.strip()]
    unknown = [p for p in args.profile if p not in PROFILES]
    if unknown:
        parser.error(f"unknown profile {', '.join(unknown)}: choose from {', '.join(PROFILES)}")

    paths = [p.resolve() for p in args.notebooks] or sorted(NOTEBOOKS.glob("*.ipynb"))
    out = args.out or RESULTS / (f"notebook-times-{args.profile[0]}.md" if len(args.profile) == 1
                                 else "notebook-times.md")

    # Kernels inherit this environment. "python3" runs the `python` first on PATH: make it this one.
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    os.environ.setdefault("LAB_DATASET", "synthetic")
    own_output = "LAB_OUTPUT_DIR" not in os.environ
    tmp = tempfile.TemporaryDirectory(prefix="lab-times-")
    if own_output:
        os.environ["LAB_OUTPUT_DIR"] = tmp.name

    import torch

    started = dt.datetime.now(dt.timezone.utc)
    header = (f"Measured by `tools/time_notebooks.py` on {started:%Y-%m-%d %H:%M} UTC: {machine()}; "
              f"Python {platform.python_version()}, torch {torch.__version__}; "
              f"LAB_DATASET={os.environ['LAB_DATASET']}, LAB_DEVICE={os.environ.get('LAB_DEVICE', 'auto')}.")
    rows: dict = {p.name: {} for p in paths}
    failed = False
    try:
        for profile in args.profile:
            os.environ["LAB_PROFILE"] = profile
            for path in paths:
                print(f"{profile:5s} {path.name} ...", end=" ", flush=True)
                try:
                    seconds, peak = time_notebook(path, args.timeout)
                except Exception as error:  # a failed notebook is reported, the others still run
                    failed = True
                    rows[path.name][profile] = "failed"
                    print(f"FAILED: {type(error).__name__}: {str(error).strip().splitlines()[-1:]}")
                    continue
                rows[path.name][profile] = (seconds, peak)
                print(f"{seconds:.1f} s, peak RSS {peak:.0f} MB", flush=True)
                write(out, header, rows, args.profile)   # after every notebook: an interrupted run keeps its rows
    finally:
        tmp.cleanup()
    write(out, header, rows, args.profile)
    print(f"wrote {out}")
    return 1 if failed else 0


def write(out: Path, header: str, rows: dict, profiles: list[str]) -> None:
    text = "\n".join([
        f"# Notebook run times ({', '.join(profiles)})",
        "",
        header,
        "",
        "Each notebook runs top to bottom in a fresh kernel. *seconds*: the wall time of all its cells "
        "(kernel start-up not included); *peak RSS*: the most memory the kernel process held "
        "(DataLoader worker processes not included). Regenerate with `make timings`.",
        "",
        table(rows, profiles),
        "",
    ])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
