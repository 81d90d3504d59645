"""Apply single mutations to labkit and train_ddp.py, one at a time, and say which tests kill them.

A maintainer's check that the unit tests pin what the code computes, not only that it runs:
each mutation below changes one thing the notebooks teach (a deleted ``zero_grad()``, an
unweighted mean, a shard that is not the rank's own, ...). A mutation that no test notices
("survived") is a claim nobody checks.

    .venv/bin/python tools/mutate.py               # every mutation (about 20 minutes on 2 cores)
    .venv/bin/python tools/mutate.py T1 X2         # only these
    .venv/bin/python tools/mutate.py --list        # what each one changes

It never touches the checkout: it copies notebooks/, tests/, tools/, conftest.py and pytest.ini
into a temporary folder (data/ linked, not copied), mutates the copy, and runs the mutation's
tests there with the copy's labkit first on PYTHONPATH. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TR, DATA, SET, STAND, PLOTS, DDP = ("notebooks/labkit/training.py", "notebooks/labkit/data.py",
                                    "notebooks/labkit/settings.py", "notebooks/labkit/standin.py",
                                    "notebooks/labkit/plots.py", "notebooks/train_ddp.py")
T_TR = ["tests/test_training.py", "tests/test_taught.py"]

#: (id, file, text to find (exactly once), replacement, test files). The ids of the review
#: (rev-code.md, section 3) are kept; the ones it did not try are numbered on.
MUTATIONS = [
    ("T1", TR, "total += loss.detach() * len(labels)", "total += loss.detach()", T_TR),
    ("T2", TR, "    model.eval()                                    # layers such as dropout behave as in testing",
     "    pass", T_TR),
    ("T3", TR, "loss_sum += loss_fn(outputs, labels) * len(labels)", "loss_sum += loss_fn(outputs, labels)", T_TR),
    ("T6", TR, "        model.load_state_dict(before)\n", "", T_TR),
    ("T9", TR, "smooth = average / (1 - beta ** (k + 1))", "smooth = average", T_TR),
    ("T11", TR, "        optimizer.zero_grad()                       # forget", "        pass  # ", T_TR),
    ("T14", TR, "running += loss.detach()", "running += loss.detach() * len(labels)", T_TR),
    ("T15", TR, "correct += (outputs.argmax(dim=1) == labels).sum()",
     "correct += (outputs.argmax(dim=0) == labels).sum()", T_TR),
    ("T16", TR, "min(50, max(1, len(train_loader) // 4))", "min(50, max(1, len(train_loader) // 2))", T_TR),
    ("T17", TR, "    model.eval()\n    all_labels", "    all_labels", T_TR),
    ("T18", TR, "return cm.diag().float() / cm.sum(dim=1)", "return cm.diag().float() / cm.sum(dim=0)", T_TR),
    ("T19", TR, "lr = start_lr * factor ** k", "lr = start_lr * factor ** (k + 1)", T_TR),
    ("T20", TR, "candidates[results[\"prediction\"] != results[\"label\"]]",
     "candidates[results[\"prediction\"] == results[\"label\"]]", T_TR),
    ("T22", TR, "history[\"train_loss\"].append(train_loss)",
     "history[\"train_loss\"].append(result[\"loss\"])", T_TR),
    ("T23", TR, "        raise                       # so that the cells", "        pass  # ", T_TR),
    ("T24", TR, "        _check_writable(Path(checkpoint_path))", "        pass", T_TR),
    ("T25", TR, "            raise LabError(_cannot_write(path, e)) from None\n        raise",
     "            raise\n        raise", T_TR),
    ("S6", SET, '    if not (REPO_ROOT / "pyproject.toml").is_file():', "    if False:", ["tests/test_settings.py"]),
    ("D3", DATA, "order = torch.randperm(n, generator=self.generator).to(self.labels.device)",
     "order = torch.arange(n, device=self.labels.device)", ["tests/test_data.py"]),
    ("D10", DATA, "        if bad and download:", "        if False:", ["tests/test_faults.py"]),
    ("D9", DATA, "subset = Subset(dataset, range(size))", "subset = Subset(dataset, range(1, size + 1))",
     ["tests/test_data.py"]),
    ("S1", SET, "    folder = folder.resolve()\n", "", ["tests/test_settings.py"]),
    ("S5", SET, "output_dir.is_relative_to(data_dir) or data_dir.is_relative_to(output_dir)",
     "output_dir == data_dir", ["tests/test_settings.py"]),
    ("N3", STAND, "    except PermissionError:   # someone else's process: alive\n        return True",
     "    except PermissionError:   # someone else's process: alive\n        return False",
     ["tests/test_data.py"]),
    ("N5", STAND, "noise = rng.normal(0.0, 0.06,", "noise = rng.normal(0.0, 0.0,", ["tests/test_data.py"]),
    ("P2", PLOTS, "ax.imshow(cm.numpy(), cmap=\"Blues\")", "ax.imshow(cm.numpy().T, cmap=\"Blues\")",
     ["tests/test_plots.py"]),
    ("P3", PLOTS, "losses.plot(history[\"epoch\"], history[\"test_loss\"], \"s-\", label=\"test\")",
     "losses.plot(history[\"epoch\"], history[\"train_loss\"], \"s-\", label=\"test\")", ["tests/test_plots.py"]),
    ("P6", PLOTS, "values = [100 * float(a) for a in accuracy]", "values = [float(a) for a in accuracy]",
     ["tests/test_plots.py"]),
    ("X1", DDP, "        sampler.set_epoch(epoch)\n", "", ["tests/test_ddp.py"]),
    ("X2", DDP, "num_replicas=world_size, rank=rank,", "num_replicas=world_size, rank=0,", ["tests/test_ddp.py"]),
    ("X3", DDP, "train_loss = metrics.item() / world_size", "train_loss = metrics.item()", ["tests/test_ddp.py"]),
    ("X4", DDP, "    if ready.item() == 0:", "    if False:", ["tests/test_ddp.py"]),
    ("X7", DDP, "Subset(test_data, range(rank, len(test_data), world_size))",
     "Subset(test_data, range(rank, len(test_data) // 2, world_size))", ["tests/test_ddp.py"]),
    ("X9", DDP, "        return error(e)\n    args = parse_args", "        raise\n    args = parse_args",
     ["tests/test_ddp.py"]),
    ("X10", DDP, "    except LabError as e:\n        return error(e)\n    # 6.", "    except LabError:\n        raise\n    # 6.",
     ["tests/test_ddp.py"]),
    ("X8", DDP, "dist.all_reduce(sums, op=dist.ReduceOp.SUM)", "pass", ["tests/test_ddp.py"]),
]


def copy_tree(dest: Path) -> None:
    for name in ("notebooks", "tests", "tools"):
        shutil.copytree(ROOT / name, dest / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints"))
    for name in ("conftest.py", "pytest.ini"):
        shutil.copy2(ROOT / name, dest / name)
    if (ROOT / "data").exists():
        os.symlink(ROOT / "data", dest / "data")


def run_one(dest: Path, mutation, timeout: int, select=None) -> tuple[str, str]:
    ident, rel, old, new, tests = mutation
    path = dest / rel
    original = path.read_text()
    if original.count(old) != 1:
        return "not applied", f"the text to mutate occurs {original.count(old)} times in {rel}"
    path.write_text(original.replace(old, new))
    env = dict(os.environ, PYTHONPATH=str(dest / "notebooks"), PYTHONDONTWRITEBYTECODE="1")
    tests = [t for t in tests if (dest / t).exists()]
    cmd = [sys.executable, "-m", "pytest", *tests, "-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
           "-o", "addopts=", "--no-rerun"]
    if select:
        cmd += ["-k", select]
    try:
        r = subprocess.run(cmd, cwd=dest, env=env, capture_output=True, text=True, timeout=timeout)
        failed = [line for line in r.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
        verdict = "killed" if r.returncode != 0 else "survived"
        detail = failed[0] if failed else r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-300:]
    except subprocess.TimeoutExpired:
        verdict, detail = "killed", f"timed out after {timeout} s"
    finally:
        path.write_text(original)
    return verdict, detail


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ids", nargs="*", help="mutation ids (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("-k", dest="select", default=None,
                        help="only the tests whose names match (pytest -k), for a quicker pass")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per mutation (default 600)")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.ids or m[0] in args.ids]
    if args.list:
        for ident, rel, old, new, tests in chosen:
            print(f"{ident:4s} {rel}: {old.strip()[:60]!r} -> {new.strip()[:60]!r}  ({', '.join(tests)})")
        return 0
    survivors = []
    with tempfile.TemporaryDirectory(prefix="labkit-mutants-") as tmp:
        dest = Path(tmp)
        copy_tree(dest)
        for mutation in chosen:
            start = time.perf_counter()
            verdict, detail = run_one(dest, mutation, args.timeout, args.select)
            print(f"{mutation[0]:4s} {verdict:11s} {time.perf_counter() - start:5.0f} s  {detail}", flush=True)
            if verdict != "killed":
                survivors.append(mutation[0])
    print(f"{len(chosen) - len(survivors)} of {len(chosen)} killed"
          + (f"; not killed: {', '.join(survivors)}" if survivors else ""))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
