"""Training speed: the tutorial's pipeline against the workshop's faster recipes, on the same data.

    python benchmarks/train_speed.py                  # tables (about 4 minutes on 2 busy CPU cores)
    python benchmarks/train_speed.py --json out.json --md out.md   # and the figures as JSON, Markdown
    python benchmarks/train_speed.py --class-size 1,2,4  # a class: N learners training at once
    python benchmarks/train_speed.py --smoke          # tiny sizes: proves that it runs (seconds)

One process, one run: every ratio compares figures measured in this run, on this machine.
It measures
  1. the tutorial pipeline as written: CIFAR10 with per-image ToTensor + Normalize,
     DataLoader(batch_size=4, shuffle=True, num_workers=2), the tutorial's Net,
     SGD(lr=0.001, momentum=0.9): training images per second;
  2. the fast CPU recipe of notebook 05 (the whole training set as one tensor made by
     as_tensors, batches cut by TensorLoader, a larger batch with the learning rate scaled),
     2a the recipe before issue 24, and 2b-2g one row per feature tried (batch size, memory
     layout, torch.compile, bf16 autocast where the CPU has native bf16, thread count, and
     bf16 with channels_last); each CPU row also gives its training FLOP/s (FLOPs counted by
     torch.utils.flop_counter) as a fraction of this machine's dense fp32 matrix-product rate,
     measured between the recipes in the same rounds, and its ceiling: the same fraction for
     its convolutions and matrix products alone (layer_kernels);
  3. the test accuracy of every CPU recipe after the same number of training images (median
     over seeds), and the time each of 1, 2, 2a (and 2g) needs to reach a target test
     accuracy, with and without the one-time preparation;
  4. with a CUDA GPU: the tutorial loop on the GPU (4a), the fast GPU recipe (data resident
     on the GPU, flips and shifts done there, batch 512, mixed precision, channels_last) with
     Net (4b) and with SmallResNet (4c); then the GPU targets: 4b against the CPU tutorial,
     and SmallResNet's accuracy and training time against Net trained in the `full` profile;
  5. with --class-size: N learners training recipe 2 at once, as N processes, with PyTorch's
     default threads and with one thread each: total and per-learner images per second.

How it keeps the figures honest:
  - the recipes take turns (peak 1 2 2a ... 4c, peak 1 2 2a ... 4c, ...), so a change in the
    machine's load hits all of them alike, and each ratio is taken within one round;
  - every figure is the median of several passes, printed with its range (min-max);
  - warm-up (worker start-up, compiling, cuDNN's algorithm search, first allocations) is
    never timed, and is reported;
  - timings wait for the GPU (labkit.devices.Timer synchronises CUDA);
  - mixed precision uses bfloat16 only where the device computes it natively (GPUs of
    compute capability 8.0 and later; CPUs with AVX512-BF16 or AMX), float16 with a
    GradScaler on older GPUs, as notebook 06 does;
  - the load average is saved at the start and the end (and around each class size).

The data is LAB_DATASET's (default here: the offline stand-in, generated if missing).
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import statistics
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset

try:
    from labkit.data import (TUTORIAL_MEAN, TUTORIAL_STD, TensorLoader, as_tensors, load_dataset,
                             profile_subset, tutorial_transform)
    from labkit.devices import Timer
    from labkit.models import Net, SmallResNet
    from labkit.settings import PROFILES, load_settings
    from labkit.training import evaluate
except ImportError as error:  # pragma: no cover - says what to do instead of a bare traceback
    sys.exit(f"train_speed.py needs the workshop's labkit package ({error}). Install it with "
             "`make` (or `pip install -e .` at the repo root), or set PYTHONPATH=notebooks.")

# The fast CPU recipe (chosen from this benchmark's rows 2a-2f and its accuracy checks, see
# README.md): batch 64, lr 0.05, the default memory layout. Before issue 24 it was batch 64,
# lr 0.016 (the linear scaling rule from the tutorial's batch 4, lr 0.001), channels_last: row 2a.
FAST_BATCH, FAST_LR, FAST_CHANNELS_LAST = 64, 0.05, False
GPU_BATCH, GPU_LR = 512, 0.05
# The GPU targets of issue 15 (measured and reported, never asserted).
TARGET_SPEEDUP = 50.0          # 4b trains >= 50x the images/s of the CPU tutorial
TARGET_RESNET_SECONDS = 30.0   # SmallResNet beats Net (full profile) in under 30 s of training

FULL = PROFILES["full"]         # the tutorial's sizes: batch 4, lr 0.001, 2 epochs
DEFAULTS = dict(images=4096, repeats=5, trials=3, target=0.6, test_images=2000, chunk=2000,
                limit=120.0, race_images=None, gpu_images=None, resnet_width=64,
                net_epochs=FULL.epochs, resnet_epochs=10, accuracy_images=20_000, accuracy_seeds=3,
                class_seconds=8.0, class_images=10_000)
SMOKE = dict(images=256, repeats=3, trials=3, target=0.0, test_images=200, chunk=64,
             limit=30.0, race_images=1024, gpu_images=256, resnet_width=8, net_epochs=1,
             resnet_epochs=1, accuracy_images=256, accuracy_seeds=2, class_seconds=0.5,
             class_images=256)

# --------------------------------------------------------------------------------------------
# Measuring: one helper for every timed repeat, recipes taking turns.
# --------------------------------------------------------------------------------------------

def spread(values) -> dict:
    """Median, min and max of a list of numbers (None entries are left out)."""
    values = [v for v in values if v is not None]
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def take_turns(tasks: dict, rounds: int) -> dict:
    """Call every task once per round, round after round (A B A B ...).

    Returns {name: [result of round 1, round 2, ...]}. Taking turns means a change in the
    machine's load during the run hits every task alike instead of one of them.
    """
    results = {name: [] for name in tasks}
    for _ in range(rounds):
        for name, task in tasks.items():
            results[name].append(task())
    return results


def images_per_second(run_pass, device) -> float:
    """Time one call of ``run_pass`` (which returns how many images it trained on), waiting
    for the GPU at both ends; returns images per second."""
    with Timer(device) as timer:
        seen = run_pass()
    return seen / timer.seconds


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"date": datetime.date.today().isoformat(), "cpu": cpu, "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "torch": torch.__version__, "gpu": None}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["compute_capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
        info["cuda"] = torch.version.cuda
    return info


def load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):   # not on Windows
        return None


# --------------------------------------------------------------------------------------------
# Training steps.
# --------------------------------------------------------------------------------------------

def amp_dtype_for(device: torch.device):
    """bfloat16 where the device computes it natively, float16 (with a GradScaler) otherwise.

    The same test as notebook 06: ``is_bf16_supported`` counts emulated bf16 unless told not
    to, and emulated bf16 on a T4 or V100 (compute capability < 8.0) is slow or fails.
    """
    if device.type != "cuda":
        return torch.bfloat16
    try:
        native = torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:        # a torch without the keyword: bf16 is native from Ampere (8.0) on
        native = torch.cuda.get_device_capability(device) >= (8, 0)
    return torch.bfloat16 if native else torch.float16


def flip_and_shift(images, padding: int = 4):
    """Cheap augmentation on the images' own device: mirror a random half of the batch, and
    shift the whole batch by one random offset of up to ``padding`` pixels (reflected border).
    The offset is drawn on the CPU, so no GPU synchronisation is needed."""
    n, _, h, w = images.shape
    flip = torch.rand(n, device=images.device) < 0.5
    images = torch.where(flip.view(n, 1, 1, 1), images.flip(3), images)
    dy, dx = (int(v) for v in torch.randint(0, 2 * padding + 1, (2,)))
    padded = F.pad(images, (padding, padding, padding, padding), mode="reflect")
    return padded[:, :, dy:dy + h, dx:dx + w]


def make_step(model, optimizer, amp_dtype=None, augment=False, channels_last=False,
              scheduler=None):
    """One training step: forward, loss, backward, update; optionally mixed precision.

    With float16 a GradScaler multiplies the loss so that small gradients do not underflow;
    with bfloat16 or float32 the scaler is disabled and passes everything through.
    """
    criterion = nn.CrossEntropyLoss()
    device_type = next(model.parameters()).device.type
    scaler = torch.amp.GradScaler(device_type, enabled=amp_dtype == torch.float16)

    def step(images, labels):
        if augment:
            images = flip_and_shift(images)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad(set_to_none=True)
        autocast = (torch.autocast(device_type=device_type, dtype=amp_dtype) if amp_dtype
                    else nullcontext())
        with autocast:
            loss = criterion(model(images), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if scheduler is not None:
            scheduler.step()
        return loss.detach()
    return step


def tutorial_recipe(dataset, device, n_images, workers):
    """Recipe 1 (and 4a on the GPU): the tutorial's loop, per-image transforms, batch 4.

    The workers persist between passes, so worker start-up is paid once, in the warm-up,
    as it is once per epoch in a real run of 12,500 batches, not once per timed pass."""
    subset = profile_subset(dataset, n_images)
    loader = DataLoader(subset, batch_size=4, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0)
    torch.manual_seed(0)
    net = Net().to(device)
    step = make_step(net, torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9))

    def run_pass(limit=None):
        seen = 0
        for inputs, labels in itertools.islice(loader, limit):
            step(inputs.to(device), labels.to(device))
            seen += len(labels)
        return seen
    return run_pass, lambda: run_pass(limit=20)


def fast_recipe(images, labels, model, batch, lr, amp_dtype=None, augment=False):
    """Recipes 2 and 4b/4c: batches cut from tensors already in memory (or on the GPU),
    model and data in channels_last."""
    model = model.to(memory_format=torch.channels_last)
    images = images.contiguous(memory_format=torch.channels_last)
    step = make_step(model, torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9),
                     amp_dtype=amp_dtype, augment=augment, channels_last=augment)
    loader = TensorLoader(images, labels, batch_size=batch, shuffle=True)

    def run_pass(limit=None):
        model.train()
        seen = 0
        for x, y in itertools.islice(loader, limit):
            step(x, y)
            seen += len(y)
        return seen
    return run_pass, lambda: run_pass(limit=6)   # warm-up: allocations, cuDNN's algorithm choice


# --------------------------------------------------------------------------------------------
# Time to accuracy (CPU): the tutorial against the fast recipes, several trials taking turns.
# --------------------------------------------------------------------------------------------

def time_to_accuracy(batches, step, model, test_loader, device, target, chunk, limit_s):
    """Train from the iterator ``batches`` until the test accuracy reaches ``target``.

    The test set is evaluated (untimed) after every ``chunk`` training images.
    Returns (training seconds or None if not reached within ``limit_s``, accuracy, images)."""
    trained_s, seen, accuracy = 0.0, 0, 0.0
    while trained_s < limit_s:
        model.train()
        start_seen = seen
        with Timer(device) as t:
            for x, y in batches:
                step(x.to(device), y.to(device))
                seen += len(y)
                if seen - start_seen >= chunk:
                    break
        trained_s += t.seconds
        accuracy = evaluate(model, test_loader, device)["accuracy"]
        if accuracy >= target:
            return trained_s, accuracy, seen
    return None, accuracy, seen


def endless(loader):
    while True:
        yield from loader


# --------------------------------------------------------------------------------------------
# The CPU recipes: the fast one, the one before it, and one variant per feature tried.
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CpuRecipe:
    """One CPU training recipe of Net: batch, learning rate, layout, compile, bf16, threads."""
    key: str
    name: str
    batch: int = FAST_BATCH
    lr: float = FAST_LR
    channels_last: bool = FAST_CHANNELS_LAST
    compile: bool = False
    bf16: bool = False
    threads: int | None = None        # None: the run's own thread count
    skipped: str | None = None        # why the row was not measured (a missing feature)


def scaled_lr(batch: int) -> float:
    """The linear scaling rule from recipe 2's batch and learning rate."""
    return FAST_LR * batch / FAST_BATCH


def native_bf16() -> tuple[bool, str]:
    """Does this CPU compute bfloat16 matrix products natively (AVX512-BF16 or AMX)?

    Without it, oneDNN emulates bf16 with fp32 arithmetic plus conversions: slower than fp32.
    Returns (native, a short reason)."""
    flags = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    capability = torch.backends.cpu.get_cpu_capability()
    native = [f for f in ("avx512_bf16", "amx_bf16") if f in flags]
    if native:
        return True, f"{' and '.join(native)} (torch CPU capability {capability})"
    if not flags and platform.machine() == "arm64":     # Apple silicon: no /proc/cpuinfo
        return False, f"unknown CPU flags (torch CPU capability {capability})"
    return False, f"no avx512_bf16 or amx_bf16 in the CPU flags (torch CPU capability {capability})"


def cpu_recipes(args, default_threads: int) -> list[CpuRecipe]:
    """Recipe 2 (the fast CPU recipe), 2a (the recipe before this change) and one row per feature
    tried, each changing one thing from 2."""
    other_batch = args.try_batch
    other_threads = 1 if default_threads > 1 else max(2, os.cpu_count() or 1)
    bf16_ok, bf16_why = native_bf16()
    bf16_skipped = (None if (bf16_ok or args.bf16 == "on") and args.bf16 != "off"
                    else f"no native bf16: {bf16_why}")
    layout = "channels_last" if FAST_CHANNELS_LAST else "default layout"
    recipes = [
        CpuRecipe("2", f"fast CPU recipe: tensors, batch {FAST_BATCH}, lr {FAST_LR:g}, {layout}"),
        CpuRecipe("2a", "before: batch 64, lr 0.016, channels_last (previous recipe 2)",
                  batch=64, lr=0.016, channels_last=True),
    ]
    if not args.variants:
        return recipes
    recipes += [
        CpuRecipe("2b", f"2 with batch {other_batch}, lr scaled ({scaled_lr(other_batch):g})",
                  batch=other_batch, lr=scaled_lr(other_batch)),
        CpuRecipe("2c", f"2 with {'the default layout' if FAST_CHANNELS_LAST else 'channels_last'}",
                  channels_last=not FAST_CHANNELS_LAST),
        CpuRecipe("2d", "2 with torch.compile (compile time is its preparation)", compile=True,
                  skipped=None if args.compile else "--no-compile"),
        CpuRecipe("2e", "2 with bf16 autocast", bf16=True, skipped=bf16_skipped),
        CpuRecipe("2f", f"2 with {other_threads} torch thread{'s' if other_threads > 1 else ''} "
                        f"(the run uses {default_threads})", threads=other_threads),
    ]
    if not FAST_CHANNELS_LAST:   # bf16 convolutions and pooling may prefer channels_last
        recipes.append(CpuRecipe("2g", "2 with bf16 autocast and channels_last", bf16=True,
                                 channels_last=True, skipped=bf16_skipped))
    return recipes


class threads_set:
    """Run a block with ``n`` torch threads (None: leave them), then restore the count."""
    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.before = torch.get_num_threads()
        if self.n:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        torch.set_num_threads(self.before)
        return False


def build_cpu(recipe: CpuRecipe, images, labels, seed: int = 0):
    """A fresh Net (seed ``seed``) and a step function for ``recipe``; images in its layout."""
    torch.manual_seed(seed)
    net = Net()
    if recipe.channels_last:
        net = net.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    model = torch.compile(net) if recipe.compile else net
    step = make_step(model, torch.optim.SGD(net.parameters(), lr=recipe.lr, momentum=0.9),
                     amp_dtype=torch.bfloat16 if recipe.bf16 else None)
    return net, model, step, images


def cpu_recipe_pass(recipe: CpuRecipe, images, labels):
    """Recipes 2 and 2a-2f: batches cut from tensors in memory by TensorLoader."""
    net, model, step, images = build_cpu(recipe, images, labels)
    loader = TensorLoader(images, labels, batch_size=recipe.batch, shuffle=True)

    def run_pass(limit=None):
        with threads_set(recipe.threads):
            model.train()
            seen = 0
            for x, y in itertools.islice(loader, limit):
                step(x, y)
                seen += len(y)
        return seen
    return run_pass, lambda: run_pass(limit=6)


def flops_per_image(recipe: CpuRecipe) -> float:
    """Floating-point operations of one training step of Net (forward and backward), per image,
    counted by torch.utils.flop_counter (matrix products and convolutions; 2 per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode
    torch.manual_seed(0)
    net = Net()
    x, y = torch.randn(recipe.batch, 3, 32, 32), torch.randint(0, 10, (recipe.batch,))
    with FlopCounterMode(display=False) as counter:
        nn.functional.cross_entropy(net(x), y).backward()
    return counter.get_total_flops() / recipe.batch


def layer_kernels(recipe: CpuRecipe):
    """The ceiling of a recipe's efficiency: Net's convolutions and matrix products alone.

    Returns (run, flops): ``run()`` does, on inputs of the shapes they have in Net at the
    recipe's batch, layout and precision, the forward and backward pass of conv1, conv2, fc1,
    fc2 and fc3 only (conv1's input needs no gradient, as in training); every other operation
    of a training step (ReLU, pooling, the loss, the optimizer, Python) is left out. ``flops``
    is what ``torch.utils.flop_counter`` counts for one call: the same FLOPs as a training
    step. A recipe's training FLOP/s cannot exceed this rate, so ``flops / seconds`` as a
    fraction of the matrix-product rate bounds the recipe's fraction from above."""
    from torch.utils.flop_counter import FlopCounterMode
    torch.manual_seed(0)
    net, b = Net(), recipe.batch
    layout = torch.channels_last if recipe.channels_last else torch.contiguous_format
    if recipe.channels_last:
        net = net.to(memory_format=torch.channels_last)
    cases = [(net.conv1, torch.randn(b, 3, 32, 32).contiguous(memory_format=layout), False),
             (net.conv2, torch.randn(b, 6, 14, 14).contiguous(memory_format=layout), True),
             (net.fc1, torch.randn(b, 400), True), (net.fc2, torch.randn(b, 120), True),
             (net.fc3, torch.randn(b, 84), True)]
    for _, x, needs_grad in cases:
        x.requires_grad_(needs_grad)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if recipe.bf16 else nullcontext

    def run():
        with threads_set(recipe.threads):
            for layer, x, _ in cases:
                with autocast():
                    out = layer(x)
                out.backward(torch.ones_like(out))
        return b

    with FlopCounterMode(display=False) as counter:
        run()
    net.zero_grad(set_to_none=True)
    return run, counter.get_total_flops()


def matmul_rate(n: int = 1024, repeats: int = 3) -> float:
    """This machine's dense fp32 matrix-product rate now (FLOP/s): ``repeats`` products of two
    n x n matrices (2 n^3 operations each) with the run's threads, after one untimed product."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * n ** 3 * repeats / (time.perf_counter() - start)


def accuracy_after(recipe, images, labels, test_loader, n_images, seed=0):
    """Test accuracy of a fresh Net (weights and batch order from ``seed``) after training on
    ``n_images`` images with ``recipe`` (batches drawn from tensors; the tutorial's arithmetic
    for recipe 1)."""
    net, model, step, images = build_cpu(recipe, images, labels, seed=seed)
    loader = endless(TensorLoader(images, labels, batch_size=recipe.batch, shuffle=True,
                                  seed=seed))
    seen = 0
    with threads_set(recipe.threads):
        model.train()
        for x, y in loader:
            step(x, y)
            seen += len(y)
            if seen >= n_images:
                break
        return round(evaluate(model, test_loader, "cpu")["accuracy"], 4)


def as_tensors_before(dataset, mean=TUTORIAL_MEAN, std=TUTORIAL_STD):
    """labkit's as_tensors before issue 24 (kept here only to measure the change): reorder,
    convert, divide, then normalise, each step making a new full-size tensor."""
    base, indices = dataset, None
    if isinstance(dataset, Subset):
        base, indices = dataset.dataset, list(dataset.indices)
    pixels = torch.from_numpy(base.data)
    labels = torch.as_tensor(base.targets, dtype=torch.long)
    if indices is not None:
        pixels, labels = pixels[indices], labels[indices]
    images = pixels.permute(0, 3, 1, 2).float().div(255)
    mean = torch.as_tensor(mean).view(1, 3, 1, 1)
    std = torch.as_tensor(std).view(1, 3, 1, 1)
    return (images - mean) / std, labels


def race_trial(recipe, train_set, test_loader, args, workers, recipes):
    """One trial of one contestant from a fresh Net (seed 0, so every trial trains the same way
    and the trials differ only by the machine's noise). Preparation is timed apart: the
    tutorial's worker start-up and first batch; the fast recipe's as_tensors (in its layout);
    the recipe before it, the previous as_tensors and then the channels_last conversion."""
    cpu = torch.device("cpu")
    with Timer(cpu) as prep:
        if recipe == "tutorial":
            torch.manual_seed(0)
            net = model = Net()
            stream = endless(DataLoader(train_set, batch_size=4, shuffle=True, num_workers=workers))
            batches = itertools.chain([next(stream)], stream)
            step = make_step(net, torch.optim.SGD(net.parameters(), lr=FULL.lr, momentum=0.9))
        else:
            spec = recipes[recipe]
            if recipe == "fast_before":
                images, labels = as_tensors_before(train_set)
            else:
                layout = torch.channels_last if spec.channels_last else torch.contiguous_format
                images, labels = as_tensors(train_set, memory_format=layout)
            net, model, step, images = build_cpu(spec, images, labels)
            batches = endless(TensorLoader(images, labels, batch_size=spec.batch, shuffle=True))
    try:
        seconds, accuracy, seen = time_to_accuracy(batches, step, model, test_loader, cpu,
                                                   args.target, args.chunk, args.limit)
    finally:
        if recipe == "tutorial":
            stream.close()     # ends the DataLoader's iterator, and with it its workers
    return {"seconds": seconds, "accuracy": accuracy, "images_seen": seen,
            "preparation_s": prep.seconds}


# The race's contestants and their rows; fast_bf16 only where row 2g is measured.
RACERS = {"tutorial": "1", "fast": "2", "fast_before": "2a", "fast_bf16": "2g"}
RACE_WHO = {"fast": "fast recipe", "fast_before": "recipe before",
            "fast_bf16": "fast recipe with bf16 and channels_last"}


def run_race(train_set, test_loader, args, recipes) -> dict:
    racers = {name: recipes[key] for name, key in RACERS.items()
              if key in recipes and recipes[key].skipped is None}
    names = ["tutorial", *racers]
    trials = take_turns({name: (lambda name=name: race_trial(name, train_set, test_loader, args,
                                                               args.workers, racers))
                         for name in names}, args.trials)
    out = {"target": args.target, "trials": args.trials, "seed": 0,
           "recipes": {name: RACERS[name] for name in names}}
    for name, runs in trials.items():
        secs = spread(r["seconds"] for r in runs)
        total = spread(r["seconds"] + r["preparation_s"] if r["seconds"] is not None else None
                       for r in runs)
        prep = spread(r["preparation_s"] for r in runs)
        out[name] = {
            "seconds": _round(secs["median"]), "seconds_min": _round(secs["min"]),
            "seconds_max": _round(secs["max"]), "reached": secs["n"],
            "seconds_all": [_round(r["seconds"]) for r in runs],
            "preparation_s": _round(prep["median"], 3),
            "preparation_s_min": _round(prep["min"], 3),
            "preparation_s_max": _round(prep["max"], 3),
            "preparation_s_all": [_round(r["preparation_s"], 3) for r in runs],
            "seconds_with_preparation": _round(total["median"]),
            "seconds_with_preparation_all": [_round(r["seconds"] + r["preparation_s"])
                                             if r["seconds"] is not None else None for r in runs],
            "accuracy": round(statistics.median(r["accuracy"] for r in runs), 4),
            "images_seen": int(statistics.median(r["images_seen"] for r in runs)),
        }
    # Ratios to the tutorial, trial by trial (each trial of a round ran back to back).
    for name in racers:
        suffix = race_suffix(name)
        pairs = list(zip(trials["tutorial"], trials[name]))
        ratios = spread(t["seconds"] / f["seconds"] if t["seconds"] and f["seconds"] else None
                        for t, f in pairs)
        with_prep = spread((t["seconds"] + t["preparation_s"]) / (f["seconds"] + f["preparation_s"])
                           if t["seconds"] and f["seconds"] else None for t, f in pairs)
        if ratios["n"]:
            out["ratio" + suffix] = round(ratios["median"], 2)
            out["ratio" + suffix + "_min"] = round(ratios["min"], 2)
            out["ratio" + suffix + "_max"] = round(ratios["max"], 2)
            out["ratio_with_preparation" + suffix] = round(with_prep["median"], 2)
            out["ratio_with_preparation" + suffix + "_min"] = round(with_prep["min"], 2)
            out["ratio_with_preparation" + suffix + "_max"] = round(with_prep["max"], 2)
    return out


def race_suffix(name: str) -> str:
    """The suffix of a contestant's ratio keys: ratio (fast), ratio_before, ratio_bf16."""
    return "" if name == "fast" else name.removeprefix("fast")


# --------------------------------------------------------------------------------------------
# A class on one machine: N learners training at once, as N processes.
# --------------------------------------------------------------------------------------------

def learner(index, threads, n_images, seconds, barrier, results, data_dir):
    """One learner's kernel: prepare the tensors, wait for the others, train recipe 2 for
    ``seconds``, report images per second. Runs in a process of its own."""
    os.environ["LAB_DATASET"] = os.environ.get("LAB_DATASET", "synthetic")
    if threads:
        torch.set_num_threads(threads)
    settings = load_settings()
    with Timer("cpu") as prep:
        train_set = profile_subset(load_dataset(settings, train=True), n_images)
        images, labels = as_tensors(train_set, memory_format=torch.channels_last
                                    if FAST_CHANNELS_LAST else torch.contiguous_format)
    run_pass, warm_up = cpu_recipe_pass(CpuRecipe("2", "class"), images, labels)
    warm_up()
    barrier.wait()
    seen, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:    # checked every 2 batches, not every pass
        seen += run_pass(limit=2)
    elapsed = time.perf_counter() - start
    results.put({"learner": index, "threads": torch.get_num_threads(), "images": seen,
                 "seconds": elapsed, "images_per_s": seen / elapsed,
                 "preparation_s": prep.seconds})


def run_class(sizes, args) -> list[dict]:
    """For each thread setting (PyTorch's default, then one thread each) and each class size N,
    start N learner processes at once and measure the total and per-learner images/s."""
    import multiprocessing as mp
    context = mp.get_context("spawn")          # fresh interpreters, as separate kernels are
    rows = []
    for threads in (None, 1):
        for n in sizes:
            barrier, results = context.Barrier(n), context.Queue()
            before = load_average()
            procs = [context.Process(target=learner, args=(i, threads, args.class_images,
                                                           args.class_seconds, barrier, results,
                                                           None)) for i in range(n)]
            for p in procs:
                p.start()
            got = [results.get(timeout=600) for _ in procs]
            for p in procs:
                p.join()
            rates = spread(r["images_per_s"] for r in got)
            prep = spread(r["preparation_s"] for r in got)
            row = {"learners": n, "threads_per_learner": got[0]["threads"],
                   "threads_setting": "default" if threads is None else threads,
                   "total_images_per_s": round(sum(r["images"] for r in got)
                                               / max(r["seconds"] for r in got), 1),
                   "per_learner_images_per_s": round(rates["median"], 1),
                   "per_learner_images_per_s_min": round(rates["min"], 1),
                   "per_learner_images_per_s_max": round(rates["max"], 1),
                   "per_learner_all": [round(r["images_per_s"], 1) for r in got],
                   "preparation_s": round(prep["median"], 3),
                   "preparation_s_max": round(prep["max"], 3),
                   "load_average_before": before, "load_average_after": load_average()}
            rows.append(row)
            print(f"  {n} learner{'s' if n > 1 else ' '} x {row['threads_per_learner']} "
                  f"thread{'s' if row['threads_per_learner'] > 1 else ' '} "
                  f"({row['threads_setting']:>7}): total {row['total_images_per_s']:>9,.0f} img/s, "
                  f"per learner {rates['median']:>8,.0f} [{rates['min']:,.0f}-{rates['max']:,.0f}]"
                  f", preparation {prep['median']:.2f} s; load {before} -> "
                  f"{row['load_average_after']}", flush=True)
    return rows


# --------------------------------------------------------------------------------------------
# The GPU accuracy target: SmallResNet (fast recipe) against Net trained in the `full` profile.
# --------------------------------------------------------------------------------------------

def train_and_test(model, step, loader, epochs, test_loader, device):
    """Train for ``epochs`` (timed, synchronised), then test (untimed)."""
    with Timer(device) as timer:
        for _ in range(epochs):
            model.train()
            for x, y in loader:
                step(x, y)
    return {"seconds": round(timer.seconds, 2), "epochs": epochs,
            "accuracy": round(evaluate(model, test_loader, device)["accuracy"], 4)}


def accuracy_target(images, labels, test_loader, device, amp_dtype, args) -> dict:
    """Net with the tutorial's recipe and the `full` profile's sizes (every training image,
    batch 4, SGD lr 0.001 momentum 0.9, 2 epochs; the data already on the device, which is the
    same arithmetic as the DataLoader without its cost), then SmallResNet with notebook 06's
    fast recipe (batch 512, Adam with a one-cycle schedule, flips and shifts, mixed precision,
    channels_last)."""
    torch.manual_seed(0)
    net = Net().to(device)
    net_step = make_step(net, torch.optim.SGD(net.parameters(), lr=FULL.lr, momentum=0.9))
    net_result = train_and_test(net, net_step, TensorLoader(images, labels,
                                                            batch_size=FULL.batch_size,
                                                            shuffle=True),
                                args.net_epochs, test_loader, device)
    net_result["recipe"] = (f"Net, `full` profile (batch {FULL.batch_size}, SGD lr {FULL.lr}), "
                            f"{len(labels):,} images")

    torch.manual_seed(0)
    resnet = SmallResNet(width=args.resnet_width).to(device, memory_format=torch.channels_last)
    loader = TensorLoader(images.contiguous(memory_format=torch.channels_last), labels,
                          batch_size=GPU_BATCH, shuffle=True)
    optimizer = torch.optim.Adam(resnet.parameters(), lr=0.01, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.01,
                                                    epochs=args.resnet_epochs,
                                                    steps_per_epoch=len(loader))
    resnet_step = make_step(resnet, optimizer, amp_dtype=amp_dtype, augment=True,
                            channels_last=True, scheduler=scheduler)
    resnet_result = train_and_test(resnet, resnet_step, loader, args.resnet_epochs, test_loader,
                                   device)
    resnet_result["recipe"] = (f"SmallResNet(width={args.resnet_width}), batch {GPU_BATCH}, Adam + "
                               f"one-cycle, {str(amp_dtype).replace('torch.', '')}, channels_last")
    return {"net_full_profile": net_result, "smallresnet": resnet_result}


def _round(x, digits=2):
    return None if x is None else round(x, digits)


# --------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--md", type=Path, help="also write the tables as Markdown to this file")
    parser.add_argument("--smoke", "--quick", action="store_true",
                        help="tiny sizes (seconds): proves the script runs; figures mean nothing")
    parser.add_argument("--rehearse", action="store_true",
                        help="without a GPU, run the GPU rows and the GPU target on the CPU "
                             "(to test their code; the figures mean nothing)")
    parser.add_argument("--images", type=int, help="training images per timed CPU pass "
                        f"(default {DEFAULTS['images']})")
    parser.add_argument("--gpu-images", type=int,
                        help="training images per timed pass of 4b/4c (default: all)")
    parser.add_argument("--repeats", type=int,
                        help=f"timed passes per recipe (default {DEFAULTS['repeats']})")
    parser.add_argument("--trials", type=int,
                        help=f"time-to-accuracy trials per recipe (default {DEFAULTS['trials']})")
    parser.add_argument("--target", type=float,
                        help=f"target test accuracy of the race (default {DEFAULTS['target']})")
    parser.add_argument("--test-images", type=int,
                        help=f"test images of the race (default {DEFAULTS['test_images']})")
    parser.add_argument("--chunk", type=int, help="training images between two evaluations in "
                        f"the race (default {DEFAULTS['chunk']})")
    parser.add_argument("--race-images", type=int,
                        help="training images the race draws from (default: all)")
    parser.add_argument("--limit", type=float, help="give up a race trial after this many "
                        f"training seconds (default {DEFAULTS['limit']:.0f})")
    parser.add_argument("--accuracy-images", type=int,
                        help="training images of the accuracy check of every CPU recipe "
                             f"(default {DEFAULTS['accuracy_images']})")
    parser.add_argument("--accuracy-seeds", type=int,
                        help="seeds (fresh starts) of that accuracy check, reported as a median "
                             f"(default {DEFAULTS['accuracy_seeds']})")
    parser.add_argument("--workers", type=int, default=2,
                        help="DataLoader workers of the tutorial pipeline (the tutorial: 2)")
    parser.add_argument("--threads", type=int,
                        help="torch threads of the training process (default: PyTorch's choice); "
                             "1 helps on a small machine busy with other processes")
    parser.add_argument("--variants", choices=("auto", "on", "off"), default="auto",
                        help="the CPU rows 2b-2g, one per feature tried (auto: on without a GPU; "
                             "off with one, to keep `make gpu-check` within its budget)")
    parser.add_argument("--try-batch", type=int, default=None,
                        help="the batch size of row 2b, lr scaled from recipe 2's (default 256)")
    parser.add_argument("--no-compile", dest="compile", action="store_false",
                        help="skip row 2d (torch.compile: minutes of compiling the first time)")
    parser.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                        help="row 2e, bf16 autocast on the CPU (auto: only where the CPU has "
                             "native bf16; on: measure it anyway)")
    parser.add_argument("--class-size", type=str, default=None,
                        help="only the class measurement: comma-separated numbers of learners "
                             "training at once as processes, e.g. 1,2,4")
    parser.add_argument("--class-seconds", type=float, default=None,
                        help=f"training seconds of each learner (default {DEFAULTS['class_seconds']})")
    parser.add_argument("--class-images", type=int, default=None,
                        help=f"training images each learner holds (default {DEFAULTS['class_images']})")
    parser.add_argument("--resnet-width", type=int, help="SmallResNet width (default 64)")
    parser.add_argument("--net-epochs", type=int, help="epochs of Net in the GPU target (2)")
    parser.add_argument("--resnet-epochs", type=int,
                        help="epochs of SmallResNet in the GPU target (10)")
    parser.add_argument("--amp-dtype", choices=("auto", "bfloat16", "float16"), default="auto",
                        help="mixed-precision type of the GPU recipes (auto: bf16 where native)")
    parser.add_argument("--skip-accuracy", action="store_true",
                        help="skip the CPU time-to-accuracy race and the accuracy checks")
    parser.add_argument("--parts", default="rates,accuracy,race",
                        help="which CPU parts to run, comma-separated (default: all three); "
                             "on a busy machine, run them as separate runs of a few minutes each")
    parser.add_argument("--skip-gpu-target", action="store_true",
                        help="skip the GPU accuracy target")
    args = parser.parse_args(argv)
    for name, value in (SMOKE if args.smoke else DEFAULTS).items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    if args.try_batch is None:
        args.try_batch = 256 if FAST_BATCH < 256 else 64
    args.parts = set(args.parts.split(","))
    unknown = args.parts - {"rates", "accuracy", "race"}
    if unknown:
        parser.error(f"unknown --parts {sorted(unknown)}: choose from rates, accuracy, race")
    if args.skip_accuracy:
        args.parts -= {"accuracy", "race"}
    if args.smoke:
        args.compile = False       # compiling takes minutes the first time: not in smoke runs
    return args


LOADED_NOTE = ("Measured on a shared machine: other processes competed for its cores (see the "
               "load averages), so absolute figures are lower and noisier than on a quiet "
               "machine; every ratio is taken within one round of recipes taking turns.")


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("LAB_DATASET", "synthetic")
    settings = load_settings()
    info = machine()
    bf16_ok, bf16_why = native_bf16()
    info["native_bf16"], info["bf16_detail"] = bf16_ok, bf16_why
    info["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    info["mkldnn"] = torch.backends.mkldnn.is_available()
    results = {"machine": info, "dataset": settings.dataset, "smoke": args.smoke,
               "options": {k: (str(v) if isinstance(v, Path) else sorted(v) if isinstance(v, set)
                               else v)
                           for k, v in vars(args).items() if k not in ("json", "md")},
               "note": LOADED_NOTE, "load_average": {"start": load_average()}}
    print(f"# train_speed  {info['date']}  {info['cpu']}, {info['cores']} cores, "
          f"torch {info['torch']} ({info['torch_threads']} thread{'s' if info['torch_threads'] > 1 else ''}), "
          f"GPU: {info['gpu'] or 'none'}; native bf16: {'yes' if bf16_ok else 'no'} ({bf16_why})"
          + (" [smoke: tiny sizes, figures mean nothing]" if args.smoke else ""))
    print(f"# data: LAB_DATASET={settings.dataset}; load average at start: {load_average()}")

    if args.class_size:
        sizes = [int(n) for n in args.class_size.split(",")]
        print(f"\n## A class on one machine: N learners training recipe 2 at once, one process "
              f"each, {args.class_seconds:g} s each (images/s; per learner: median [range])")
        results["class"] = {"recipe": f"2: batch {FAST_BATCH}, lr {FAST_LR:g}, "
                                      f"{'channels_last' if FAST_CHANNELS_LAST else 'default layout'}",
                            "seconds": args.class_seconds, "images_per_learner": args.class_images,
                            "rows": run_class(sizes, args)}
        return finish(results, args)

    cpu = torch.device("cpu")
    if torch.cuda.is_available():
        accel = torch.device("cuda")
    elif args.rehearse:
        accel = cpu
    else:
        accel = None
    args.variants = args.variants == "on" or (args.variants == "auto" and accel is None)
    amp_dtype = None
    if accel is not None:
        amp_dtype = (amp_dtype_for(accel) if args.amp_dtype == "auto"
                     else getattr(torch, args.amp_dtype))
    results["rehearsal"] = accel is not None and accel.type == "cpu"
    results["images_per_pass"], results["repeats"], results["rows"] = args.images, args.repeats, []
    train_set = load_dataset(settings, train=True, transform=tutorial_transform())
    test_set = profile_subset(load_dataset(settings, train=False, transform=tutorial_transform()),
                              args.test_images)
    images, labels = as_tensors(profile_subset(train_set, args.images))
    test_images, test_labels = as_tensors(test_set)
    test_loader = TensorLoader(test_images, test_labels, batch_size=500)

    # 1. Images per second, every recipe taking turns with the matrix-product rate.
    specs = {r.key: r for r in cpu_recipes(args, torch.get_num_threads())}
    recipes = {}   # key -> (name, device, run_pass, warm_up)
    recipes["1"] = ("tutorial: PIL transforms, DataLoader(batch 4, "
                    f"{args.workers} workers)", cpu, *tutorial_recipe(train_set, cpu, args.images,
                                                                       args.workers))
    for key, spec in specs.items():
        if spec.skipped is None:
            recipes[key] = (spec.name, cpu, *cpu_recipe_pass(spec, images, labels))
    if accel is not None:
        if accel.type == "cuda":
            torch.backends.cudnn.benchmark = True     # warm-up passes pay for the search
        amp_name = str(amp_dtype).replace("torch.", "")
        recipes["4a"] = ("tutorial loop on the GPU", accel,
                         *tutorial_recipe(train_set, accel, args.images, args.workers))
        gpu_set = profile_subset(train_set, args.gpu_images)
        g_images, g_labels = as_tensors(gpu_set, device=accel)   # the training set on the GPU
        torch.manual_seed(0)
        recipes["4b"] = (f"fast GPU recipe: data on GPU, batch {GPU_BATCH}, {amp_name}, "
                         "channels_last (Net)", accel,
                         *fast_recipe(g_images, g_labels, Net().to(accel), GPU_BATCH, GPU_LR,
                                      amp_dtype=amp_dtype, augment=True))
        torch.manual_seed(0)
        recipes["4c"] = (f"same recipe, SmallResNet(width={args.resnet_width})", accel,
                         *fast_recipe(g_images, g_labels,
                                      SmallResNet(width=args.resnet_width).to(accel), GPU_BATCH,
                                      GPU_LR, amp_dtype=amp_dtype, augment=True))
        results["amp_dtype"] = amp_name
        results["gpu_images_per_pass"] = len(g_labels)
    if "rates" in args.parts or accel is not None:
        measure_rates(recipes, specs, results, args)
    if accel is not None:
        results["gpu_note"] = (f"4b and 4c pass over {len(g_labels):,} images per timed pass; "
                               "ratios to 1 are to the CPU tutorial, 'same device' to 4a")

    # 2. Accuracy after the same number of images, and time to accuracy, on the CPU.
    if "accuracy" in args.parts:
        seeds = list(range(args.accuracy_seeds))
        print(f"\n## Test accuracy after {args.accuracy_images:,} training images, median over "
              f"seeds {seeds} [range] (the same starts for every recipe; {len(test_set):,} test "
              "images)")
        tutorial_spec = CpuRecipe("1", "the tutorial's arithmetic", batch=FULL.batch_size,
                                  lr=FULL.lr, channels_last=False)
        acc, acc_all = {}, {}
        all_images, all_labels = as_tensors(profile_subset(train_set, args.race_images))
        for key, spec in {"1": tutorial_spec, **specs}.items():
            if spec.skipped is None and spec.threads is None:   # threads: the same arithmetic
                acc_all[key] = [accuracy_after(spec, all_images, all_labels, test_loader,
                                               args.accuracy_images, seed=seed) for seed in seeds]
                acc[key] = round(statistics.median(acc_all[key]), 4)
                print(f"  {key:<3} {acc[key]:.1%} [{min(acc_all[key]):.1%}-{max(acc_all[key]):.1%}]")
        results["accuracy_after_images"] = {"images": args.accuracy_images, "seeds": seeds,
                                            "accuracy": acc, "accuracy_all": acc_all,
                                            "note": "median over the seeds; recipe 1's arithmetic "
                                                    "(batch 4, lr 0.001) on tensors: the same "
                                                    "updates as its DataLoader"}
    if "race" in args.parts:
        print(f"\n## Time to reach {args.target:.0%} test accuracy ({len(test_set):,} test images; "
              f"{args.trials} trials taking turns, median [range]; preparation timed apart)")
        race = run_race(profile_subset(train_set, args.race_images), test_loader, args, specs)
        results["time_to_accuracy"] = race
        for name in race["recipes"]:
            r = race[name]
            shown = (f"{r['seconds']:8.1f} s [{r['seconds_min']:.1f}-{r['seconds_max']:.1f}]"
                     if r["seconds"] is not None else f"not reached in {args.limit:.0f} s")
            with_prep = (f"{r['seconds_with_preparation']:.1f} s with it"
                         if r["seconds_with_preparation"] is not None else "")
            print(f"  {name:<11} {shown}  reached in {r['reached']}/{args.trials} trials, "
                  f"accuracy {r['accuracy']:.1%} after {r['images_seen']:,} images; preparation "
                  f"{r['preparation_s']:.2f} s [{r['preparation_s_min']:.2f}-"
                  f"{r['preparation_s_max']:.2f}], {with_prep}")
        for name, who in RACE_WHO.items():
            suffix = race_suffix(name)
            if "ratio" + suffix in race:
                print(f"  the {who} reached {args.target:.0%} {race['ratio' + suffix]:.1f}x sooner "
                      f"[{race['ratio' + suffix + '_min']:.1f}-{race['ratio' + suffix + '_max']:.1f}];"
                      f" {race['ratio_with_preparation' + suffix]:.1f}x counting preparation "
                      f"[{race['ratio_with_preparation' + suffix + '_min']:.1f}-"
                      f"{race['ratio_with_preparation' + suffix + '_max']:.1f}]")

    # 3. The GPU targets.
    if accel is not None and not args.skip_gpu_target:
        print(f"\n## GPU targets ({'rehearsal on the CPU: figures mean nothing' if accel.type == 'cpu' else info['gpu']})")
        full_test = load_dataset(settings, train=False, transform=tutorial_transform())
        if args.smoke:
            full_test = profile_subset(full_test, args.test_images)
        g_test = TensorLoader(*as_tensors(full_test, device=accel), batch_size=1000)
        target = accuracy_target(g_images, g_labels, g_test, accel, amp_dtype, args)
        results["gpu_accuracy"] = target
        for r in target.values():
            print(f"  {r['recipe']:<76} {r['epochs']} epochs {r['seconds']:7.1f} s  "
                  f"test accuracy {r['accuracy']:.1%}")
        row4b = next(r for r in results["rows"] if r["recipe"].startswith("4b"))
        net_r, res_r = target["net_full_profile"], target["smallresnet"]
        results["targets"] = [
            {"target": f"fast GPU recipe (4b) >= {TARGET_SPEEDUP:.0f}x the CPU tutorial's images/s",
             "measured": f"{row4b['ratio_to_tutorial_cpu']:.1f}x "
                         f"[{row4b['ratio_to_tutorial_cpu_min']:.1f}-"
                         f"{row4b['ratio_to_tutorial_cpu_max']:.1f}]",
             "passed": row4b["ratio_to_tutorial_cpu"] >= TARGET_SPEEDUP},
            {"target": "SmallResNet beats Net (full profile) in test accuracy, in under "
                       f"{TARGET_RESNET_SECONDS:.0f} s of training",
             "measured": f"{res_r['accuracy']:.1%} in {res_r['seconds']:.1f} s vs Net "
                         f"{net_r['accuracy']:.1%}",
             "passed": res_r["accuracy"] > net_r["accuracy"]
                       and res_r["seconds"] < TARGET_RESNET_SECONDS},
        ]
        for t in results["targets"]:
            print(f"  {'PASS' if t['passed'] else 'FAIL'}  {t['target']}: {t['measured']}")
        if args.smoke or accel.type == "cpu":
            print("  (smoke or rehearsal sizes: pass/fail here says nothing about the targets)")
    return finish(results, args)




def measure_rates(recipes, specs, results, args):
    """Images per second of every recipe, taking turns with the matrix-product rate and with
    each CPU row's ceiling (its convolutions and matrix products alone)."""
    cpu_device = torch.device("cpu")
    warm_s = {}
    for key, (_, device, _, warm_up) in recipes.items():       # untimed (torch.compile compiles)
        with Timer(device) as t:
            warm_up()
        warm_s[key] = t.seconds
    flops = {key: flops_per_image(spec) for key, spec in specs.items()}
    results["flops_per_image"] = {key: round(f) for key, f in flops.items()}
    results["flops_per_image"]["1"] = round(flops_per_image(CpuRecipe("1", "", batch=4)))
    flops["1"] = results["flops_per_image"]["1"]
    print(f"\n## Images per second (training), median of {args.repeats} passes taking turns "
          "(range in brackets), with this machine's fp32 matrix-product rate measured between")
    tasks = {"peak": matmul_rate}
    tasks.update({key: (lambda r=r: images_per_second(r[2], r[1])) for key, r in recipes.items()})
    # The ceiling of each CPU row: its convolutions and matrix products alone (see layer_kernels),
    # timed in the same rounds. torch.compile (2d) runs the same kernels as 2: no row of its own.
    ceilings = {key: layer_kernels(spec) for key, spec in specs.items()
                if key in recipes and not spec.compile}
    for key, (run, _) in ceilings.items():
        reps = max(1, args.images // specs[key].batch)
        run()                                                       # untimed: first allocations
        tasks["ceiling " + key] = (lambda run=run, reps=reps: images_per_second(
            lambda: sum(run() for _ in range(reps)), cpu_device))
    rates = take_turns(tasks, args.repeats)
    peak = rates.pop("peak")
    ceiling_rates = {key: rates.pop("ceiling " + key) for key in ceilings}
    p = spread(peak)
    results["matmul_fp32"] = {"flop_per_s": round(p["median"]), "flop_per_s_min": round(p["min"]),
                              "flop_per_s_max": round(p["max"]),
                              "flop_per_s_all": [round(x) for x in peak],
                              "how": "torch.mm of two 1024 x 1024 fp32 matrices, 3 per round, "
                                     f"{torch.get_num_threads()} threads"}
    print(f"  dense fp32 matrix products (torch.mm 1024 x 1024): {p['median'] / 1e9:.1f} GFLOP/s "
          f"[{p['min'] / 1e9:.1f}-{p['max'] / 1e9:.1f}]")
    for key, (name, device, _, _) in recipes.items():
        same = "4a" if key.startswith("4") else "1"    # the tutorial loop on the same device
        to_cpu = spread(a / b for a, b in zip(rates[key], rates["1"]))
        to_same = spread(a / b for a, b in zip(rates[key], rates[same]))
        r = spread(rates[key])
        row = {"recipe": f"{key}. {name}", "key": key, "device": device.type,
               "images_per_s": round(r["median"], 1), "images_per_s_min": round(r["min"], 1),
               "images_per_s_max": round(r["max"], 1),
               "images_per_s_all": [round(x, 1) for x in rates[key]],
               "ratio_to_tutorial_cpu": round(to_cpu["median"], 2),
               "ratio_to_tutorial_cpu_min": round(to_cpu["min"], 2),
               "ratio_to_tutorial_cpu_max": round(to_cpu["max"], 2),
               "ratio_to_tutorial_same_device": round(to_same["median"], 2),
               "ratio_to_tutorial_same_device_min": round(to_same["min"], 2),
               "ratio_to_tutorial_same_device_max": round(to_same["max"], 2),
               "warm_up_s": round(warm_s[key], 2)}
        extra = f"  ({row['ratio_to_tutorial_same_device']:.1f}x {same})" if same != "1" else ""
        if key in flops:       # CPU rows: achieved training FLOP/s as a fraction of the matmul rate
            eff = spread(a * flops[key] / m for a, m in zip(rates[key], peak))
            row.update(flops_per_image=round(flops[key]),
                       training_flop_per_s=round(r["median"] * flops[key]),
                       efficiency=round(eff["median"], 3), efficiency_min=round(eff["min"], 3),
                       efficiency_max=round(eff["max"], 3))
            extra += f"  {eff['median']:.2f} of matmul [{eff['min']:.2f}-{eff['max']:.2f}]"
        if key in ceiling_rates:   # the same FLOPs per image, in the kernels alone
            per_image = ceilings[key][1] / specs[key].batch      # counted in the kernels alone
            ceil = spread(a * per_image / m for a, m in zip(ceiling_rates[key], peak))
            row.update(ceiling_flop_per_s=round(statistics.median(ceiling_rates[key]) * per_image),
                       ceiling_flops_per_image=round(per_image),
                       ceiling=round(ceil["median"], 3), ceiling_min=round(ceil["min"], 3),
                       ceiling_max=round(ceil["max"], 3))
            extra += f", kernels alone {ceil['median']:.2f}"
        if key in specs:
            row["spec"] = asdict(specs[key])
        results["rows"].append(row)
        print(f"  {row['recipe']:<76} {device.type:<4} {r['median']:>10,.0f} img/s "
              f"[{r['min']:,.0f}-{r['max']:,.0f}]  {to_cpu['median']:>7.1f}x "
              f"[{to_cpu['min']:.1f}-{to_cpu['max']:.1f}]{extra}", flush=True)
    results["skipped_rows"] = [{"recipe": f"{s.key}. {s.name}", "why": s.skipped}
                               for s in specs.values() if s.skipped]
    for s in results["skipped_rows"]:
        print(f"  {s['recipe']:<76} not measured: {s['why']}")


def finish(results, args) -> dict:
    results["load_average"]["end"] = load_average()
    print(f"\n# load average at the end: {results['load_average']['end']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(markdown(results))
        print(f"wrote {args.md}")
    return results


def markdown(results) -> str:
    """The tables of one run, as Markdown (the results file quotes them unchanged)."""
    m, load = results["machine"], results["load_average"]
    out = [f"# `train_speed.py`, {m['date']}: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, "
           f"{m['torch_threads']} torch thread(s)", "",
           f"Data: `LAB_DATASET={results['dataset']}`. Native bf16: "
           f"{'yes' if m.get('native_bf16') else 'no'} ({m.get('bf16_detail', '?')}). "
           f"Load average (1, 5, 15 min) at the start {load['start']}, at the end "
           f"{load.get('end')}.", "", f"**{results['note']}**", "",
           "Options: `" + " ".join(f"{k}={v}" for k, v in results["options"].items()
                                   if v not in (None, False)) + "`", ""]

    def fmt(x, digits=0):
        return "-" if x is None else f"{x:,.{digits}f}"

    if "matmul_fp32" in results:
        p = results["matmul_fp32"]
        out += [f"Dense fp32 matrix products, measured between the recipes: "
                f"{p['flop_per_s'] / 1e9:.1f} GFLOP/s [{p['flop_per_s_min'] / 1e9:.1f}-"
                f"{p['flop_per_s_max'] / 1e9:.1f}] ({p['how']}).", "",
                "| recipe | images/s, median [min-max] | ratio to 1 | training FLOP/s "
                "| fraction of matmul rate | its kernels alone (ceiling) | warm-up s |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in results["rows"]:
            eff = (f"{r['efficiency']:.2f} [{r['efficiency_min']:.2f}-{r['efficiency_max']:.2f}]"
                   if "efficiency" in r else "-")
            ceil = (f"{r['ceiling']:.2f} [{r['ceiling_min']:.2f}-{r['ceiling_max']:.2f}]"
                    if "ceiling" in r else "-")
            gflops = (f"{r['training_flop_per_s'] / 1e9:.1f} G" if "training_flop_per_s" in r
                      else "-")
            out.append(f"| {r['recipe']} | {fmt(r['images_per_s'])} [{fmt(r['images_per_s_min'])}-"
                       f"{fmt(r['images_per_s_max'])}] | {r['ratio_to_tutorial_cpu']:.2f}x "
                       f"[{r['ratio_to_tutorial_cpu_min']:.2f}-{r['ratio_to_tutorial_cpu_max']:.2f}] "
                       f"| {gflops} | {eff} | {ceil} | {r['warm_up_s']:.1f} |")
        for s in results.get("skipped_rows", []):
            out.append(f"| {s['recipe']} | not measured: {s['why']} | | | | | |")
        out += ["", "*Its kernels alone*: the row's convolutions and matrix products (conv1, conv2, "
                "fc1-fc3, forward and backward, at its batch, layout and precision), timed alone in "
                "the same rounds, as a fraction of the matmul rate: the same FLOPs without ReLU, "
                "pooling, the loss, the optimizer or Python. No recipe of this network with these "
                "kernels can exceed it."]
        out += ["", "FLOPs per trained image (forward + backward, `torch.utils.flop_counter`): "
                + ", ".join(f"{k}: {v / 1e6:.2f} M" for k, v in results["flops_per_image"].items())
                + ".", ""]
    if "accuracy_after_images" in results:
        a = results["accuracy_after_images"]
        ranges = a.get("accuracy_all", {})
        out += [f"Test accuracy after {a['images']:,} training images, median over seeds "
                f"{a.get('seeds', [0])} [range], the same starts for every recipe: "
                + ", ".join(f"{k}: {v:.1%}" + (f" [{min(ranges[k]):.1%}-{max(ranges[k]):.1%}]"
                                               if k in ranges else "")
                            for k, v in a["accuracy"].items())
                + f" ({a['note']}).", ""]
    if "time_to_accuracy" in results:
        race = results["time_to_accuracy"]
        out += [f"| time to {race['target']:.0%} test accuracy, {race['trials']} trials | training s, "
                "median [min-max] | preparation s, median [min-max] | training + preparation s "
                "| images seen | accuracy then |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for name in race["recipes"]:
            r = race[name]
            out.append(f"| {name} ({race['recipes'][name]}) | {fmt(r['seconds'], 1)} "
                       f"[{fmt(r['seconds_min'], 1)}-{fmt(r['seconds_max'], 1)}] | "
                       f"{r['preparation_s']:.2f} [{r['preparation_s_min']:.2f}-"
                       f"{r['preparation_s_max']:.2f}] | {fmt(r['seconds_with_preparation'], 1)} | "
                       f"{r['images_seen']:,} | {r['accuracy']:.1%} |")
        for who in RACE_WHO:
            suffix = race_suffix(who)
            if "ratio" + suffix in race:
                out.append(f"| ratio tutorial / {who} | **{race['ratio' + suffix]:.1f}x** "
                           f"[{race['ratio' + suffix + '_min']:.1f}-{race['ratio' + suffix + '_max']:.1f}]"
                           f" | | **{race['ratio_with_preparation' + suffix]:.1f}x** "
                           f"[{race['ratio_with_preparation' + suffix + '_min']:.1f}-"
                           f"{race['ratio_with_preparation' + suffix + '_max']:.1f}] | | |")
        out.append("")
    if "class" in results:
        c = results["class"]
        out += [f"A class on one machine: N learners train recipe {c['recipe']} at once, one "
                f"process each, {c['seconds']:g} s each, {c['images_per_learner']:,} images each.",
                "", "| learners | torch threads each | total images/s | per learner, median "
                "[min-max] | loading + as_tensors s (median, max) | load before -> after |",
                "| ---: | ---: | ---: | ---: | ---: | --- |"]
        for r in c["rows"]:
            out.append(f"| {r['learners']} | {r['threads_per_learner']} ({r['threads_setting']}) | "
                       f"{fmt(r['total_images_per_s'])} | {fmt(r['per_learner_images_per_s'])} "
                       f"[{fmt(r['per_learner_images_per_s_min'])}-"
                       f"{fmt(r['per_learner_images_per_s_max'])}] | {r['preparation_s']:.2f}, "
                       f"{r['preparation_s_max']:.2f} | {r['load_average_before']} -> "
                       f"{r['load_average_after']} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    main()
