"""Time every workshop notebook: seconds to run and peak memory, each in a fresh kernel.

    python tools/time_notebooks.py --profile quick                 every notebooks/*.ipynb
    python tools/time_notebooks.py --profile quick,full            one table, two columns per profile
    python tools/time_notebooks.py --profile smoke notebooks/00_setup_check.ipynb
    python tools/time_notebooks.py --profile full --out table.md   choose where the table goes
    python tools/time_notebooks.py --profile quick --cells NB      only each code cell's run time (for tools/pace.py)

Each notebook runs top to bottom in a new kernel of *this* Python (the interpreter that runs this
script, like nbval's --nbval-current-env), started in the notebook's folder, with
LAB_PROFILE=<profile> and LAB_DATASET=synthetic unless LAB_DATASET is set. Everything the notebooks
write goes to a temporary LAB_OUTPUT_DIR (unless LAB_OUTPUT_DIR is set); executed notebooks are kept
in memory only, never written into the checkout.

"seconds" is the wall time of the notebook's cells (kernel start-up not included). "peak memory" is
the largest total the kernel's whole process tree held at once: the kernel, its DataLoader workers and
the processes it launches (torchrun and its workers in notebook 07), sampled every 0.1 s. It is the sum
of each process's PSS (its private memory plus its share of pages shared with the others), which is
what a class hub must provide per learner; RSS is used where PSS cannot be read. The sum of RSS is
shown too (an upper bound: shared pages count in every process; never below the kernel's own ru_maxrss). The Markdown table goes to --out (default:
benchmarks/results/notebook-times-<profile>.md, or notebook-times.md for several profiles), with the
date, machine, torch version and settings above it. Every run also records each code cell's seconds
(by cell id) in benchmarks/results/cell-times-<profile>.json, which tools/pace.py reads; --cells
writes only that file. The exit status is 1 if any notebook failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import json
import tempfile
import threading
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


class TreeMemory:
    """Samples the memory of a process and all its descendants in a thread; keeps the peak (MB)."""

    def __init__(self, pid: int, interval: float = 0.1):
        import psutil

        self._psutil, self.pid, self.interval = psutil, pid, interval
        self.peak_mb = 0.0          # sum of PSS (RSS where PSS cannot be read)
        self.peak_rss_mb = 0.0      # sum of RSS: counts shared pages once per process (an upper bound)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _one(self, proc) -> tuple[float, float]:
        try:
            info = proc.memory_full_info()          # PSS on Linux
            return getattr(info, "pss", info.rss), info.rss
        except (self._psutil.AccessDenied, AttributeError):
            rss = proc.memory_info().rss
            return rss, rss

    def sample(self) -> float:
        psutil = self._psutil
        try:
            root = psutil.Process(self.pid)
            procs = [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            return 0.0
        pss = rss = 0.0
        for proc in procs:
            try:
                one_pss, one_rss = self._one(proc)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
            pss, rss = pss + one_pss, rss + one_rss
        self.peak_mb = max(self.peak_mb, pss / 2**20)
        self.peak_rss_mb = max(self.peak_rss_mb, rss / 2**20)
        return pss / 2**20

    def _run(self):
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()


def time_notebook(path: Path, timeout: int) -> dict:
    """Run one notebook in a fresh kernel: seconds for its cells, each code cell's seconds by id,
    the peak memory of the kernel's process tree and the kernel's own peak RSS (MB)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    measure = nbformat.v4.new_code_cell(MEASURE)
    client.reset_execution_trackers()
    cells: dict[str, float] = {}
    with client.setup_kernel():
        client.wait_for_reply(client.kc.kernel_info())
        with TreeMemory(client.km.provisioner.pid) as tree:
            start = time.perf_counter()
            for index, cell in enumerate(list(nb.cells)):
                began = time.perf_counter()
                client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                if cell.cell_type == "code" and cell.source.strip():
                    cells[cell.get("id", str(index))] = round(time.perf_counter() - began, 3)
            seconds = time.perf_counter() - start
        nb.cells.append(measure)   # in memory only: the notebook file is never written
        client.execute_cell(measure, len(nb.cells) - 1)
    text = "".join(o.get("text", "") for o in measure.outputs if o.get("output_type") == "stream")
    kernel_peak = float(text.split("LAB_PEAK_RSS_MB")[1].split()[0])
    return {"seconds": seconds, "cells": cells, "tree_peak_mb": tree.peak_mb,
            "tree_rss_peak_mb": max(tree.peak_rss_mb, kernel_peak), "kernel_peak_mb": kernel_peak}


def write_cell_times(path: Path, notebook: str, cells: dict, profile: str, header: str) -> None:
    """Merge one notebook's per-cell seconds into the JSON that tools/pace.py reads."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        data = {"notebooks": {}}
    data["profile"] = profile
    data.setdefault("measured", {})[notebook] = header
    data["notebooks"][notebook] = cells
    data["notebooks"] = dict(sorted(data["notebooks"].items()))
    data["measured"] = dict(sorted(data["measured"].items()))
    _write_atomically(path, json.dumps(data, indent=1) + "\n")


def _write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside it, then rename: an interrupted run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def table(rows: dict, profiles: list[str]) -> str:
    head = "| notebook | " + " | ".join(f"{p}: seconds | {p}: peak memory, process tree, PSS / RSS (MB)"
                                        for p in profiles) + " |"
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
                s = r["seconds"]
                cells += [f"{s:.1f}" if s < 10 else f"{s:.0f}", f"{r['tree_peak_mb']:.0f} / {r['tree_rss_peak_mb']:.0f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    parser.add_argument("--profile", action="append",
                        help="full, quick or smoke; repeat it or separate by commas (default: quick)")
    parser.add_argument("--out", type=Path, help="where to write the Markdown table")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")
    parser.add_argument("--cells", action="store_true",
                        help="only record each code cell's seconds (benchmarks/results/cell-times-<profile>.json)")
    parser.add_argument("--cell-times", type=Path, help="where the per-cell JSON goes (default: benchmarks/results/)")
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
                    result = time_notebook(path, args.timeout)
                except Exception as error:  # a failed notebook is reported, the others still run
                    failed = True
                    rows[path.name][profile] = "failed"
                    print(f"FAILED: {type(error).__name__}: {str(error).strip().splitlines()[-1:]}")
                    continue
                rows[path.name][profile] = result
                print(f"{result['seconds']:.1f} s, peak memory of the process tree {result['tree_peak_mb']:.0f} MB "
                      f"PSS / {result['tree_rss_peak_mb']:.0f} MB RSS", flush=True)
                write_cell_times(args.cell_times or RESULTS / f"cell-times-{profile}.json", path.name,
                                 result["cells"], profile, header)
                if not args.cells:   # after every notebook: an interrupted run keeps its rows
                    write(out, header, rows, args.profile)
    finally:
        tmp.cleanup()
    if not args.cells:
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
        "(kernel start-up not included); *peak memory, process tree*: the most memory the kernel and every "
        "process it started (DataLoader workers, torchrun and its workers) held at once, as the sum of their "
        "PSS (each process's private memory plus its share of pages shared with others), sampled every 0.1 s, "
        "and the sum of their RSS (shared pages counted in every process, and at least the kernel's own "
        "peak RSS): size a class hub per learner between the two, nearer RSS to be safe. "
        "Regenerate with `make timings`.",
        "",
        table(rows, profiles),
        "",
    ])
    _write_atomically(out, text)


if __name__ == "__main__":
    sys.exit(main())
