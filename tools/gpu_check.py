"""Prove every GPU path of the workshop on a GPU machine with one command, in under 8 minutes.

    make gpu-wheels                            # here, with network: the wheels GPU machines lack
    make gpu-check PYTHON=python3              # on the GPU machine, with its own Python
    make gpu-check GPU_CHECK_ARGS=--rehearse   # the same steps on the CPU, smoke-sized

The GPU machines at hand have no network and bring their own Python with a CUDA build of
PyTorch, but not nbval, ipykernel or the Jupyter client. So:

``download-wheels`` (run on a connected machine) downloads those packages and everything they
need, as wheels for the GPU machine's Python, into an ignored folder (``wheels/py312``), which
travels with the working tree.

``run`` (on the GPU machine) checks that the given Python's torch and torchvision meet the
workshop's floor, stops at once when no CUDA GPU is visible, installs only the packages that
this Python lacks, from those wheels and into a private folder (never into the Python itself),
then runs, each step timed, with a time limit, and continuing after a failed step:

  data       python -m labkit prepare-offline     (the offline stand-in)
  pytest     pytest --cuda over the unit tests and notebooks 05, 06, 07 (smoke, stand-in)
  benchmark  benchmarks/train_speed.py with its GPU rows and GPU targets, as JSON
  ddp        torchrun --nproc_per_node=<number of GPUs> notebooks/train_ddp.py (nccl)
  ddp-crash  the same with LAB_DDP_FAIL_RANK=1 (notebook 07's crash demo): the job must fail, name
             rank 1's error, and end without hanging (needs 2 GPUs; skipped with one)

It writes one results file, benchmarks/results/<date>-<gpu>.json (date, GPU, driver, CUDA,
torch, torchvision, Python, and each step's exit code, seconds and summary), prints a Markdown
table ready for benchmarks/README.md, and exits non-zero if any step failed.

``run --rehearse`` runs the same steps on the CPU (LAB_DEVICE=cpu, with LAB_GPU_REHEARSAL=1 so that
notebook 06 runs its GPU-only cells on the CPU too, two gloo processes for torchrun, the benchmark's
GPU rows on the CPU) and writes its results under LAB_OUTPUT_DIR
(default outputs/) unless --out says where: a rehearsal is never a result.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"

# The workshop's version floor (requirements.txt); PyTorch 2.11 on the GPU machines passes it.
FLOOR = {"torch": (2, 5), "torchvision": (0, 20)}
# What the GPU machines lack: module to import -> requirement to install.
NEEDED = {"nbval": "nbval", "ipykernel": "ipykernel", "jupyter_client": "jupyter_client"}
TOTAL_BUDGET_S = 480           # the whole run, on a GPU machine: 8 minutes
REHEARSAL_BUDGET_S = 1500      # a CPU rehearsal runs the same tests on a (small) CPU: slower
# Each step's own time limit (seconds), and the least it is given even when the run is late.
STEP_LIMITS = {"data": (60, 20), "pytest": (230, 60), "benchmark": (150, 60), "ddp": (60, 30),
               "ddp-crash": (60, 30)}
# Test files left out on the GPU: this file's own test (it would run the check inside the
# check), the benchmark's test (the benchmark step runs the benchmark itself), the rerun test
# (every notebook twice: minutes, and nothing in it depends on the device), and the checks of
# the Markdown lab guides and their figures (documents, not code; about a minute on a CPU).
LEFT_OUT = ["tests/test_gpu_check.py", "tests/test_benchmark.py", "tests/test_notebooks_rerun.py",
            "tests/test_labs.py", "tests/test_labs_fr.py"]
NOTEBOOKS = ["notebooks/05_training_and_evaluation.ipynb", "notebooks/06_gpu_acceleration.ipynb",
             "notebooks/07_scaling_out.ipynb"]
MINIMAL_TESTS = ["tests/test_settings.py"]
# manylinux tags the GPU machine accepts (pip matches --platform tags exactly).
PLATFORMS = (["manylinux1_x86_64", "manylinux2010_x86_64", "manylinux2014_x86_64"]
             + [f"manylinux_2_{n}_x86_64" for n in range(5, 40)])


def say(message: str) -> None:
    print(f"gpu-check: {message}", flush=True)


def version_tuple(version: str) -> tuple:
    """'2.11.0+cu130' -> (2, 11, 0)."""
    return tuple(int(p) for p in re.findall(r"\d+", version.split("+")[0])[:3])


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def output_dir() -> Path:
    """LAB_OUTPUT_DIR (relative to the repo root), or outputs/ at the repo root."""
    raw = os.environ.get("LAB_OUTPUT_DIR", "").strip()
    path = Path(raw).expanduser() if raw else ROOT / "outputs"
    return path if path.is_absolute() else ROOT / path


# --------------------------------------------------------------------------------------------
# download-wheels (a connected machine)
# --------------------------------------------------------------------------------------------

def download_wheels(args) -> int:
    dest = Path(args.dest)
    if not dest.is_absolute():
        dest = ROOT / dest
    dest.mkdir(parents=True, exist_ok=True)
    short = args.python_version.replace(".", "")
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
           "--only-binary=:all:", "--python-version", args.python_version,
           "--implementation", "cp", "--abi", f"cp{short}", "--abi", "abi3", "--abi", "none",
           "--dest", str(dest)]
    for tag in PLATFORMS:
        cmd += ["--platform", tag]
    constraints = ROOT / "constraints.txt"
    if constraints.exists():   # the versions of the last green run, where they apply
        cmd += ["--constraint", str(constraints)]
    cmd += sorted(set(NEEDED.values()))
    say("downloading " + ", ".join(sorted(set(NEEDED.values()))) + " and what they need, for "
        f"CPython {args.python_version} on x86_64 Linux, into {dest}")
    r = subprocess.run(cmd)
    if r.returncode != 0:
        say("pip download failed (see above); the wheels are incomplete.")
        return r.returncode
    wheels = sorted(dest.glob("*.whl"))
    total = sum(w.stat().st_size for w in wheels)
    (dest / "manifest.json").write_text(json.dumps({
        "python_version": args.python_version, "requirements": sorted(set(NEEDED.values())),
        "downloaded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wheels": [w.name for w in wheels], "total_bytes": total}, indent=2) + "\n")
    say(f"{len(wheels)} wheels, {total / 2**20:.1f} MiB in {dest}. They travel with the working "
        "tree (carry this ignored folder); `make gpu-check` installs from them only what is missing.")
    return 0


# --------------------------------------------------------------------------------------------
# run (the GPU machine, or a CPU rehearsal)
# --------------------------------------------------------------------------------------------

def check_versions() -> tuple[dict, str | None]:
    """Versions of this Python's torch and torchvision, and a message if below the floor."""
    try:
        import torch
        import torchvision
    except ImportError as e:
        return {}, (f"{sys.executable} cannot import torch/torchvision ({e}). Give gpu-check the "
                    "Python that has the CUDA build of PyTorch: make gpu-check PYTHON=/path/to/python3")
    found = {"torch": torch.__version__, "torchvision": torchvision.__version__}
    low = [f"{name} {found[name]} (needs >= {'.'.join(map(str, floor))})"
           for name, floor in FLOOR.items() if version_tuple(found[name]) < floor]
    if low:
        return found, (f"{sys.executable} has " + " and ".join(low) + ", below the workshop's floor "
                       "(torch>=2.5, torchvision>=0.20, as in requirements.txt). Use a Python with "
                       "a newer PyTorch: make gpu-check PYTHON=/path/to/python3")
    return found, None


def no_gpu_message() -> str:
    import torch
    build = (f"this PyTorch is built for CUDA {torch.version.cuda}" if torch.version.cuda
             else "this PyTorch is a CPU-only build")
    return ("no CUDA GPU is visible (torch.cuda.is_available() is False; " + build + "). "
            "Run `make gpu-check PYTHON=python3` on a machine with an NVIDIA GPU (check that "
            "`nvidia-smi` lists it), or rehearse the steps on the CPU: "
            "make gpu-check GPU_CHECK_ARGS=--rehearse")


def environment_info(rehearse: bool) -> dict:
    import torch
    import torchvision
    info = {"date": datetime.date.today().isoformat(),
            "time_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "rehearsal": rehearse, "python": platform.python_version(),
            "python_executable": sys.executable, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "cuda": torch.version.cuda,
            "cpu_count": os.cpu_count(), "gpu": None, "gpu_count": 0, "driver": None}
    if torch.cuda.is_available():
        info["gpu_count"] = torch.cuda.device_count()
        info["gpu"] = torch.cuda.get_device_name(0)
        info["compute_capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
        info["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30)
        if shutil.which("nvidia-smi"):
            try:
                r = subprocess.run(["nvidia-smi", "--query-gpu=driver_version",
                                    "--format=csv,noheader"], capture_output=True, text=True,
                                   timeout=30)
                info["driver"] = r.stdout.strip().splitlines()[0] if r.returncode == 0 else None
            except (OSError, subprocess.SubprocessError, IndexError):
                pass
    return info


def missing_modules() -> list[str]:
    return [m for m in NEEDED if importlib.util.find_spec(m) is None]


def install_missing(wheel_dir: Path, target: Path) -> tuple[bool, str]:
    """Install what this Python lacks of NEEDED from ``wheel_dir`` into ``target``.

    pip first says (--dry-run --report) which distributions it would add to this Python's
    environment, so those already there (pytest, packaging, ...) are not shadowed by copies;
    those alone are then installed, without dependencies, into ``target``, a private folder
    that the steps put on PYTHONPATH. Nothing is installed into the Python itself."""
    if target.is_dir():
        sys.path.insert(0, str(target))      # installed by an earlier run
        importlib.invalidate_caches()
    missing = missing_modules()
    if not missing:
        return True, "nothing to install: " + ", ".join(NEEDED) + " import already"
    if not any(wheel_dir.glob("*.whl")):
        return False, (f"{', '.join(missing)} missing and no wheels in {wheel_dir}. On a connected "
                       "machine run `make gpu-wheels` first (for this Python's version), and bring "
                       "the wheels/ folder along with the working tree.")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    requirements = [NEEDED[m] for m in missing]
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        r = subprocess.run(pip + ["install", "--no-index", "--find-links", str(wheel_dir),
                                  "--dry-run", "--quiet", "--report", str(report), *requirements],
                           capture_output=True, text=True)
        if r.returncode == 0 and report.exists():
            items = json.loads(report.read_text()).get("install", [])
            files = [url2pathname(urlparse(item["download_info"]["url"]).path) for item in items]
            names = [f"{i['metadata']['name']} {i['metadata']['version']}" for i in items]
            cmd = pip + ["install", "--no-index", "--no-deps", "--no-compile", "--quiet",
                         "--upgrade", "--target", str(target), *files]
        else:   # an old pip without --dry-run/--report: install the whole closure privately
            names = requirements + ["(and all they need)"]
            cmd = pip + ["install", "--no-index", "--find-links", str(wheel_dir), "--no-compile",
                         "--quiet", "--upgrade", "--target", str(target), *requirements]
        r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return False, f"pip install into {target} failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}"
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    still = missing_modules()
    if still:
        return False, f"installed {', '.join(names)} but {', '.join(still)} still do not import"
    return True, f"installed {len(names)} into {target}: {', '.join(names)}"


def run_step(name, cmd, env, log_dir: Path, timeout: float, cwd=ROOT, quiet=False) -> dict:
    """Run one step in its own process session (so a hang can be killed whole), its output
    in a log file; returns its exit code, seconds and the tail of its output. quiet: the caller
    judges the result (a step meant to fail), so say nothing about it here."""
    log = log_dir / f"{name}.log"
    say(f"step {name}: {' '.join(str(c) for c in cmd)}  (limit {timeout:.0f} s)")
    start = time.perf_counter()
    timed_out = False
    with open(log, "w") as out:
        proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)     # the step and everything it started
            rc = proc.wait()
        except KeyboardInterrupt:                   # Ctrl-C: leave nothing running behind
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    seconds = time.perf_counter() - start
    text = log.read_text(errors="replace")
    result = {"step": name, "rc": rc, "ok": rc == 0 and not timed_out, "timed_out": timed_out,
              "seconds": round(seconds, 1), "log": str(log), "tail": text[-3000:]}
    if quiet:
        return result
    state = "ok" if result["ok"] else ("TIMED OUT" if timed_out else f"FAILED (exit code {rc})")
    say(f"step {name}: {state} in {seconds:.0f} s")
    if not result["ok"]:
        print("\n".join(text.splitlines()[-25:]), flush=True)
    return result


def pytest_summary(text: str) -> tuple[str, list]:
    lines = [line.strip("= ") for line in text.splitlines()
             if re.search(r"\d+ (passed|failed|error|errors|skipped|deselected)\b", line)]
    slowest = [line.strip() for line in text.splitlines()
               if re.match(r"\s*\d+\.\d+s (call|setup|teardown)\s", line)][:8]
    return (lines[-1] if lines else "no pytest summary line (see the log)"), slowest


def load_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def run(args) -> int:
    found, problem = check_versions()
    if problem:
        say(problem)
        return 2
    import torch
    gpu = torch.cuda.is_available()
    if not gpu and not args.rehearse:
        say(no_gpu_message())
        return 2
    if args.budget is None:
        args.budget = REHEARSAL_BUDGET_S if args.rehearse else TOTAL_BUDGET_S
    deadline = time.monotonic() + args.budget
    info = environment_info(args.rehearse)
    where = (f"{info['gpu_count']} x {info['gpu']}" if gpu and not args.rehearse
             else "the CPU (rehearsal)")
    say(f"Python {info['python']} ({sys.executable}), torch {found['torch']}, torchvision "
        f"{found['torchvision']}; running on {where}; budget {args.budget:.0f} s")

    if args.out:
        out = Path(args.out)
    elif args.rehearse:
        out = output_dir() / "gpu-check" / f"{info['date']}-rehearsal-cpu.json"
    else:
        out = RESULTS_DIR / f"{info['date']}-{slug(info['gpu'])}.json"
    work = output_dir() / "gpu-check" / "work"
    work.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    version = f"py{sys.version_info.major}{sys.version_info.minor}"
    wheel_dir = Path(args.wheels) if args.wheels else ROOT / "wheels" / version
    site = work / f"site-{version}"

    steps = []
    start = time.perf_counter()
    ok, message = install_missing(wheel_dir, site)
    steps.append({"step": "setup", "rc": 0 if ok else 1, "ok": ok, "timed_out": False,
                  "seconds": round(time.perf_counter() - start, 1), "summary": message})
    say(f"step setup: {message}")

    # The steps' environment. PYTHONPATH: the private packages, and notebooks/ so that
    # `import labkit` works without `pip install -e .`, which cannot run offline on the GPU
    # machine; acceptable there, since that machine is thrown away after the check.
    env = dict(os.environ)
    paths = [str(site)] if site.is_dir() else []
    paths += [str(ROOT / "notebooks")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env.update(PYTHONPATH=os.pathsep.join(paths), PYTHONUNBUFFERED="1", MPLBACKEND="Agg",
               LAB_DATASET="synthetic", LAB_PROFILE="smoke",
               LAB_DEVICE="cpu" if args.rehearse else "cuda",
               LAB_OUTPUT_DIR=str(run_dir / "outputs"))
    env.pop("LAB_DDP_FAIL_RANK", None)
    if args.rehearse:
        # One thread per process: on a small, busy CPU, several threads per process spin and
        # wait for each other, and the rehearsal would take many times as long.
        env["OMP_NUM_THREADS"] = "1"
        env["LAB_GPU_REHEARSAL"] = "1"       # notebook 06: the GPU-only cells run on the CPU too
    py = sys.executable

    scale = args.budget / TOTAL_BUDGET_S     # the step limits grow with a larger budget

    def limit(step: str, later: list[str]) -> float:
        cap, least = (scale * x for x in STEP_LIMITS[step])
        reserve = sum(scale * STEP_LIMITS[s][1] for s in later)
        return max(least, min(cap, deadline - time.monotonic() - reserve))

    # data: the stand-in, generated once, before the steps that read it.
    s = run_step("data", [py, "-m", "labkit", "prepare-offline"], env, run_dir,
                 limit("data", ["pytest", "benchmark", "ddp"]))
    s["summary"] = s["tail"].strip().splitlines()[-1][:200] if s["tail"].strip() else ""
    steps.append(s)

    # pytest: unit tests and notebooks 05-07, on the GPU (--cuda) or, rehearsing, the CPU.
    if args.minimal:
        targets = MINIMAL_TESTS
    else:
        targets = NOTEBOOKS + ["tests"]     # the GPU notebooks first: the heart of the check
    cmd = [py, "-m", "pytest", *targets, "-q", "--maxfail=3", "--durations=8",
           "-p", "no:cacheprovider", *(f"--ignore={p}" for p in LEFT_OUT)]
    if not args.rehearse:
        cmd.append("--cuda")
    if not args.minimal and "--no-rerun" in (ROOT / "conftest.py").read_text():
        cmd.append("--no-rerun")     # the second Run All of each notebook: minutes we lack here
    s = run_step("pytest", cmd, env, run_dir, limit("pytest", ["benchmark", "ddp", "ddp-crash"]))
    s["summary"], s["slowest"] = pytest_summary(s["tail"])
    if not s["ok"] and "changed the checkout" in s["tail"]:   # conftest.py's check
        s["summary"] += "; the run changed the checkout (see the log)"
    steps.append(s)

    # benchmark: GPU rows and GPU targets (the CPU race is left out on the GPU: the budget).
    bench_json = run_dir / "benchmark.json"
    cmd = [py, "benchmarks/train_speed.py", "--json", bench_json]
    if args.rehearse:
        cmd += ["--smoke", "--rehearse"] + (["--skip-accuracy"] if args.minimal else [])
    else:
        cmd += ["--skip-accuracy"]
    s = run_step("benchmark", cmd, env, run_dir, limit("benchmark", ["ddp", "ddp-crash"]))
    bench = load_json(bench_json) if s["ok"] else None
    s["summary"] = bench_summary(bench) if bench else "no results (see the log)"
    steps.append(s)

    # ddp: one process per GPU with NCCL; rehearsing, two CPU processes with gloo.
    nproc = 2 if args.rehearse else max(1, info["gpu_count"])
    ddp_json = run_dir / "ddp.json"
    cmd = [py, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           ROOT / "notebooks" / "train_ddp.py", "--epochs", "1",
           "--checkpoint", run_dir / "ddp_net.pt", "--json", ddp_json]
    s = run_step("ddp", cmd, env, run_dir, limit("ddp", ["ddp-crash"]))
    ddp = load_json(ddp_json) if s["ok"] else None
    if ddp:
        ddp = {k: v for k, v in ddp.items() if k != "history"}
        s["summary"] = (f"{ddp.get('world_size')} processes, {ddp.get('backend')}, "
                        f"{ddp.get('device')}, test accuracy {ddp.get('test_accuracy', 0):.1%}")
    else:
        s["summary"] = "no results (see the log)"
    steps.append(s)

    # ddp-crash: notebook 07's crash demo. Rank 1 raises after its first batch; the job must fail
    # (exit code not 0), show rank 1's error, and end within the step's limit: a hang, e.g. a
    # process stuck tearing down NCCL while another waits in a collective, is killed and fails.
    if nproc >= 2:
        cmd = [py, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               ROOT / "notebooks" / "train_ddp.py", "--epochs", "1", "--checkpoint", ""]
        s = run_step("ddp-crash", cmd, {**env, "LAB_DDP_FAIL_RANK": "1"}, run_dir,
                     limit("ddp-crash", []), quiet=True)
        shown = "rank 1 fails on purpose" in Path(s["log"]).read_text(errors="replace")
        failed_as_planned = s["rc"] != 0 and not s["timed_out"] and shown
        s["ok"] = failed_as_planned
        s["summary"] = (f"failed as planned in {s['seconds']:.0f} s, rank 1's error shown"
                        if failed_as_planned else "TIMED OUT (a hang?)" if s["timed_out"]
                        else "did not fail as planned (see the log)")
        say(f"step ddp-crash: {'ok' if s['ok'] else 'FAILED'}: {s['summary']}")
    else:
        s = {"step": "ddp-crash", "rc": 0, "ok": True, "timed_out": False, "seconds": 0.0,
             "summary": "skipped: needs 2 GPUs (one NCCL process per GPU)"}
        say(f"step ddp-crash: {s['summary']}")
    steps.append(s)

    total = time.perf_counter() - start
    results = {**info, "total_seconds": round(total, 1), "budget_s": args.budget,
               "all_ok": all(st["ok"] for st in steps), "steps": steps,
               "benchmark": bench, "ddp": ddp}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    out.with_suffix(".md").write_text(table)
    print("\n" + table, flush=True)
    say(f"wrote {out} and {out.with_suffix('.md').name}; total {total:.0f} s")
    if not results["all_ok"]:
        failed = [st["step"] for st in steps if not st["ok"]]
        say("FAILED steps: " + ", ".join(failed) + " (logs in " + str(run_dir) + ")")
        return 1
    return 0


def bench_summary(bench: dict) -> str:
    rows = {r["recipe"].split(".")[0]: r for r in bench.get("rows", [])}
    parts = []
    for key in ("4b", "4c"):
        if key in rows:
            r = rows[key]
            parts.append(f"{key}: {r['images_per_s']:,.0f} img/s, {r['ratio_to_tutorial_cpu']:.1f}x "
                         f"CPU tutorial, {r['ratio_to_tutorial_same_device']:.1f}x 4a")
    for t in bench.get("targets", []):
        parts.append(f"{'PASS' if t['passed'] else 'FAIL'}: {t['target']}")
    return "; ".join(parts) or f"{len(rows)} rows"


def markdown(results: dict) -> str:
    """A Markdown section for benchmarks/README.md."""
    if results["rehearsal"]:
        head = (f"### {results['date']}, CPU rehearsal (not a GPU result), {results['cpu_count']} "
                f"cores, torch {results['torch']}, torchvision {results['torchvision']}, "
                f"Python {results['python']}")
    else:
        head = (f"### {results['date']}, {results['gpu_count']} x {results['gpu']} (compute "
                f"capability {results.get('compute_capability')}, driver {results['driver']}, "
                f"CUDA {results['cuda']}), torch {results['torch']}, torchvision "
                f"{results['torchvision']}, Python {results['python']}")
    lines = [head, "", f"`make gpu-check`: {'all steps passed' if results['all_ok'] else 'SOME STEPS FAILED'} "
             f"in {results['total_seconds']:.0f} s.", "",
             "| step | result | seconds | summary |", "| --- | --- | ---: | --- |"]
    for st in results["steps"]:
        state = "ok" if st["ok"] else ("timed out" if st["timed_out"] else f"failed ({st['rc']})")
        summary = str(st.get("summary", "")).replace("|", "/").replace("\n", " ")
        lines.append(f"| {st['step']} | {state} | {st['seconds']:.0f} | {summary} |")
    bench = results.get("benchmark")
    if bench:
        lines += ["", f"Benchmark (median of {bench['repeats']} passes taking turns, [min-max]; "
                  f"mixed precision: {bench.get('amp_dtype', 'n/a')}):", "",
                  "| recipe | device | images/s | x CPU tutorial | x tutorial, same device |",
                  "| --- | --- | ---: | ---: | ---: |"]
        for r in bench["rows"]:
            lines.append(
                f"| {r['recipe']} | {r['device']} | {r['images_per_s']:,.0f} "
                f"[{r['images_per_s_min']:,.0f}-{r['images_per_s_max']:,.0f}] | "
                f"{r['ratio_to_tutorial_cpu']:.1f}x [{r['ratio_to_tutorial_cpu_min']:.1f}-"
                f"{r['ratio_to_tutorial_cpu_max']:.1f}] | {r['ratio_to_tutorial_same_device']:.1f}x |")
        acc = bench.get("gpu_accuracy")
        if acc:
            lines += ["", "| training run | epochs | training seconds | test accuracy |",
                      "| --- | ---: | ---: | ---: |"]
            for r in acc.values():
                lines.append(f"| {r['recipe']} | {r['epochs']} | {r['seconds']:.1f} | "
                             f"{r['accuracy']:.1%} |")
        if bench.get("targets"):
            lines += ["", "| target | measured | result |", "| --- | --- | --- |"]
            for t in bench["targets"]:
                lines.append(f"| {t['target']} | {t['measured']} | "
                             f"{'pass' if t['passed'] else 'FAIL'} |")
            if bench.get("smoke") or bench.get("rehearsal"):
                lines.append("")
                lines.append("(Rehearsal sizes: these pass/fail marks say nothing about the targets.)")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    dl = sub.add_parser("download-wheels", help="download the wheels a GPU machine lacks")
    dl.add_argument("--python-version", default="3.12", help="the GPU machine's Python (3.12)")
    dl.add_argument("--dest", default=None, help="folder for the wheels (wheels/py312)")
    r = sub.add_parser("run", help="run every GPU path and write the results")
    r.add_argument("--rehearse", action="store_true",
                   help="run the same steps on the CPU (smoke sizes), without a GPU")
    r.add_argument("--minimal", action="store_true",
                   help="rehearse each step at its smallest (one unit-test file, no notebooks, "
                        "no CPU race): for tests/test_gpu_check.py")
    r.add_argument("--out", help="results JSON (default: benchmarks/results/<date>-<gpu>.json; "
                                 "rehearsal: LAB_OUTPUT_DIR/gpu-check/<date>-rehearsal-cpu.json)")
    r.add_argument("--wheels", help="folder of wheels (default: wheels/py3XX for this Python)")
    r.add_argument("--budget", type=float, default=None,
                   help=f"seconds for the whole run (default {TOTAL_BUDGET_S}; rehearsal "
                        f"{REHEARSAL_BUDGET_S}); each step's time limit scales with it")
    args = parser.parse_args(argv)
    if args.command == "download-wheels":
        if args.dest is None:
            args.dest = f"wheels/py{args.python_version.replace('.', '')}"
        return download_wheels(args)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
