"""Training speed: the tutorial's pipeline against the workshop's faster recipes, on the same data.

    python benchmarks/train_speed.py                  # tables (a few minutes on 2 CPU cores)
    python benchmarks/train_speed.py --json out.json  # and the figures as JSON
    python benchmarks/train_speed.py --smoke          # tiny sizes: proves that it runs (seconds)

One process, one run: every ratio compares figures measured in this run, on this machine.
It measures
  1. the tutorial pipeline as written: CIFAR10 with per-image ToTensor + Normalize,
     DataLoader(batch_size=4, shuffle=True, num_workers=2), the tutorial's Net,
     SGD(lr=0.001, momentum=0.9): training images per second;
  2. the fast CPU recipe of notebook 05: the whole training set as one tensor (as_tensors),
     batches cut by TensorLoader, batch 64 with the learning rate scaled to match (0.016),
     channels_last: images per second;
  3. the training time each of them needs to reach a target test accuracy, and the ratio;
  4. with a CUDA GPU: the tutorial loop on the GPU (4a), the fast GPU recipe (data resident
     on the GPU, flips and shifts done there, batch 512, mixed precision, channels_last) with
     Net (4b) and with SmallResNet (4c); then the GPU targets: 4b against the CPU tutorial,
     and SmallResNet's accuracy and training time against Net trained in the `full` profile.

How it keeps the figures honest:
  - the recipes take turns (1 2 4a 4b 4c, 1 2 4a 4b 4c, ...), so a change in the machine's
    load hits all of them alike, and each ratio is taken within one round;
  - every figure is the median of several passes, printed with its range (min-max);
  - warm-up (worker start-up, cuDNN's algorithm search, first allocations) is never timed;
  - timings wait for the GPU (labkit.devices.Timer synchronises CUDA);
  - mixed precision uses bfloat16 only where the GPU computes it natively (compute
    capability 8.0 and later), float16 with a GradScaler otherwise, as notebook 06 does.

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
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

try:
    from labkit.data import (TensorLoader, as_tensors, load_dataset, profile_subset,
                             tutorial_transform)
    from labkit.devices import Timer
    from labkit.models import Net, SmallResNet
    from labkit.settings import PROFILES, load_settings
    from labkit.training import evaluate
except ImportError as error:  # pragma: no cover - says what to do instead of a bare traceback
    sys.exit(f"train_speed.py needs the workshop's labkit package ({error}). Install it with "
             "`make` (or `pip install -e .` at the repo root), or set PYTHONPATH=notebooks.")

# The fast CPU recipe of notebook 05: batch 64 with the learning rate scaled like the batch
# (0.001 * 64 / 4), data and model in channels_last memory layout.
FAST_BATCH, FAST_LR = 64, 0.016
GPU_BATCH, GPU_LR = 512, 0.05
# The GPU targets of issue 15 (measured and reported, never asserted).
TARGET_SPEEDUP = 50.0          # 4b trains >= 50x the images/s of the CPU tutorial
TARGET_RESNET_SECONDS = 30.0   # SmallResNet beats Net (full profile) in under 30 s of training

FULL = PROFILES["full"]         # the tutorial's sizes: batch 4, lr 0.001, 2 epochs
DEFAULTS = dict(images=4000, repeats=5, trials=3, target=0.6, test_images=2000, chunk=2000,
                limit=120.0, race_images=None, gpu_images=None, resnet_width=64,
                net_epochs=FULL.epochs, resnet_epochs=10)
SMOKE = dict(images=256, repeats=3, trials=3, target=0.0, test_images=200, chunk=64,
             limit=30.0, race_images=1024, gpu_images=256, resnet_width=8, net_epochs=1,
             resnet_epochs=1)


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
# Time to accuracy (CPU): the tutorial against the fast recipe, several trials taking turns.
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


def race_trial(recipe, train_set, test_loader, args, workers):
    """One trial of one recipe from a fresh Net (seed 0, so every trial trains the same way and
    the trials differ only by the machine's noise). Preparation is timed apart: the tutorial's
    worker start-up and first batch, the fast recipe's as_tensors + channels_last."""
    cpu = torch.device("cpu")
    torch.manual_seed(0)
    net = Net()
    with Timer(cpu) as prep:
        if recipe == "tutorial":
            lr = 0.001
            stream = endless(DataLoader(train_set, batch_size=4, shuffle=True, num_workers=workers))
            batches = itertools.chain([next(stream)], stream)
        else:
            lr = FAST_LR
            images, labels = as_tensors(train_set)
            images = images.contiguous(memory_format=torch.channels_last)
            net = net.to(memory_format=torch.channels_last)
            batches = endless(TensorLoader(images, labels, batch_size=FAST_BATCH, shuffle=True))
    step = make_step(net, torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9))
    try:
        seconds, accuracy, seen = time_to_accuracy(batches, step, net, test_loader, cpu,
                                                   args.target, args.chunk, args.limit)
    finally:
        if recipe == "tutorial":
            stream.close()     # ends the DataLoader's iterator, and with it its workers
    return {"seconds": seconds, "accuracy": accuracy, "images_seen": seen,
            "preparation_s": prep.seconds}


def run_race(train_set, test_loader, args) -> dict:
    trials = take_turns({name: (lambda name=name: race_trial(name, train_set, test_loader, args,
                                                               args.workers))
                         for name in ("tutorial", "fast")}, args.trials)
    out = {"target": args.target, "trials": args.trials, "seed": 0}
    for name, runs in trials.items():
        secs = spread(r["seconds"] for r in runs)
        total = spread(r["seconds"] + r["preparation_s"] if r["seconds"] is not None else None
                       for r in runs)
        out[name] = {
            "seconds": _round(secs["median"]), "seconds_min": _round(secs["min"]),
            "seconds_max": _round(secs["max"]), "reached": secs["n"],
            "seconds_all": [_round(r["seconds"]) for r in runs],
            "preparation_s": _round(statistics.median(r["preparation_s"] for r in runs)),
            "seconds_with_preparation": _round(total["median"]),
            "accuracy": round(statistics.median(r["accuracy"] for r in runs), 4),
            "images_seen": int(statistics.median(r["images_seen"] for r in runs)),
        }
    pairs = [(t["seconds"], f["seconds"]) for t, f in zip(trials["tutorial"], trials["fast"])]
    ratios = spread(t / f if t and f else None for t, f in pairs)
    with_prep = spread((t["seconds"] + t["preparation_s"]) / (f["seconds"] + f["preparation_s"])
                       if t["seconds"] and f["seconds"] else None
                       for t, f in zip(trials["tutorial"], trials["fast"]))
    if ratios["n"]:
        out["ratio"] = round(ratios["median"], 2)
        out["ratio_min"], out["ratio_max"] = round(ratios["min"], 2), round(ratios["max"], 2)
        out["ratio_with_preparation"] = round(with_prep["median"], 2)
    return out


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
    parser.add_argument("--workers", type=int, default=2,
                        help="DataLoader workers of the tutorial pipeline (the tutorial: 2)")
    parser.add_argument("--threads", type=int,
                        help="torch threads of the training process (default: PyTorch's choice); "
                             "1 helps on a small machine busy with other processes")
    parser.add_argument("--resnet-width", type=int, help="SmallResNet width (default 64)")
    parser.add_argument("--net-epochs", type=int, help="epochs of Net in the GPU target (2)")
    parser.add_argument("--resnet-epochs", type=int,
                        help="epochs of SmallResNet in the GPU target (10)")
    parser.add_argument("--amp-dtype", choices=("auto", "bfloat16", "float16"), default="auto",
                        help="mixed-precision type of the GPU recipes (auto: bf16 where native)")
    parser.add_argument("--skip-accuracy", action="store_true",
                        help="skip the CPU time-to-accuracy race")
    parser.add_argument("--skip-gpu-target", action="store_true",
                        help="skip the GPU accuracy target")
    args = parser.parse_args(argv)
    for name, value in (SMOKE if args.smoke else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("LAB_DATASET", "synthetic")
    settings = load_settings()
    info = machine()
    cpu = torch.device("cpu")
    if torch.cuda.is_available():
        accel = torch.device("cuda")
    elif args.rehearse:
        accel = cpu
    else:
        accel = None
    amp_dtype = None
    if accel is not None:
        amp_dtype = (amp_dtype_for(accel) if args.amp_dtype == "auto"
                     else getattr(torch, args.amp_dtype))

    print(f"# train_speed  {info['date']}  {info['cpu']}, {info['cores']} cores, "
          f"torch {info['torch']} ({info['torch_threads']} thread{'s' if info['torch_threads'] > 1 else ''}), "
          f"GPU: {info['gpu'] or 'none'}"
          + (" [rehearsal: GPU rows on the CPU]" if accel is not None and accel.type == "cpu" else "")
          + (" [smoke: tiny sizes, figures mean nothing]" if args.smoke else ""))
    print(f"# data: LAB_DATASET={settings.dataset}; load average at start: {load_average()}")
    train_set = load_dataset(settings, train=True, transform=tutorial_transform())
    test_set = profile_subset(load_dataset(settings, train=False, transform=tutorial_transform()),
                              args.test_images)
    images, labels = as_tensors(profile_subset(train_set, args.images))
    test_images, test_labels = as_tensors(test_set)
    results = {"machine": info, "dataset": settings.dataset, "smoke": args.smoke,
               "rehearsal": accel is not None and accel.type == "cpu",
               "options": {k: v for k, v in vars(args).items() if k != "json"},
               "images_per_pass": args.images, "repeats": args.repeats,
               "load_average": {"start": load_average()}, "rows": []}

    # 1. Images per second, every recipe taking turns.
    recipes = {}   # key -> (name, device, run_pass, warm_up)
    recipes["1"] = ("tutorial: PIL transforms, DataLoader(batch 4, "
                    f"{args.workers} workers)", cpu, *tutorial_recipe(train_set, cpu, args.images,
                                                                       args.workers))
    torch.manual_seed(0)
    recipes["2"] = (f"fast CPU recipe: tensors, batch {FAST_BATCH}, channels_last", cpu,
                    *fast_recipe(images, labels, Net(), FAST_BATCH, FAST_LR))
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
    for _, _, _, warm_up in recipes.values():       # untimed
        warm_up()
    print(f"\n## Images per second (training), median of {args.repeats} passes taking turns "
          "(range in brackets)")
    rates = take_turns({key: (lambda r=r: images_per_second(r[2], r[1]))
                        for key, r in recipes.items()}, args.repeats)
    for key, (name, device, _, _) in recipes.items():
        same = "4a" if key.startswith("4") else "1"    # the tutorial loop on the same device
        to_cpu = spread(a / b for a, b in zip(rates[key], rates["1"]))
        to_same = spread(a / b for a, b in zip(rates[key], rates[same]))
        r = spread(rates[key])
        row = {"recipe": f"{key}. {name}", "device": device.type,
               "images_per_s": round(r["median"], 1), "images_per_s_min": round(r["min"], 1),
               "images_per_s_max": round(r["max"], 1),
               "images_per_s_all": [round(x, 1) for x in rates[key]],
               "ratio_to_tutorial_cpu": round(to_cpu["median"], 2),
               "ratio_to_tutorial_cpu_min": round(to_cpu["min"], 2),
               "ratio_to_tutorial_cpu_max": round(to_cpu["max"], 2),
               "ratio_to_tutorial_same_device": round(to_same["median"], 2),
               "ratio_to_tutorial_same_device_min": round(to_same["min"], 2),
               "ratio_to_tutorial_same_device_max": round(to_same["max"], 2)}
        results["rows"].append(row)
        extra = f"  ({row['ratio_to_tutorial_same_device']:.1f}x {same})" if same != "1" else ""
        print(f"  {row['recipe']:<76} {device.type:<4} {r['median']:>10,.0f} img/s "
              f"[{r['min']:,.0f}-{r['max']:,.0f}]  {to_cpu['median']:>7.1f}x "
              f"[{to_cpu['min']:.1f}-{to_cpu['max']:.1f}]{extra}", flush=True)
    if accel is not None:
        results["gpu_note"] = (f"4b and 4c pass over {len(g_labels):,} images per timed pass; "
                               "ratios to 1 are to the CPU tutorial, 'same device' to 4a")

    # 2. Time to accuracy on the CPU.
    test_loader = TensorLoader(test_images, test_labels, batch_size=500)
    if not args.skip_accuracy:
        print(f"\n## Time to reach {args.target:.0%} test accuracy ({len(test_set):,} test images; "
              f"training time only; {args.trials} trials taking turns, median [range])")
        race = run_race(profile_subset(train_set, args.race_images), test_loader, args)
        results["time_to_accuracy"] = race
        for name in ("tutorial", "fast"):
            r = race[name]
            shown = (f"{r['seconds']:8.1f} s [{r['seconds_min']:.1f}-{r['seconds_max']:.1f}]"
                     if r["seconds"] is not None else f"not reached in {args.limit:.0f} s")
            print(f"  {name:<10} {shown}  reached in {r['reached']}/{args.trials} trials, "
                  f"accuracy {r['accuracy']:.1%} after {r['images_seen']:,} images; "
                  f"preparation {r['preparation_s']:.2f} s (not counted)")
        if "ratio" in race:
            print(f"  the fast recipe reached {args.target:.0%} {race['ratio']:.1f}x sooner "
                  f"[{race['ratio_min']:.1f}-{race['ratio_max']:.1f}]; "
                  f"{race['ratio_with_preparation']:.1f}x counting preparation")

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

    results["load_average"]["end"] = load_average()
    print(f"\n# load average at the end: {results['load_average']['end']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return results


if __name__ == "__main__":
    main()
