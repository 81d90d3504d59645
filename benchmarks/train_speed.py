"""Training speed: the tutorial's pipeline against the workshop's faster recipes, on the same data.

    python benchmarks/train_speed.py                 # prints a table
    python benchmarks/train_speed.py --json out.json # and writes the figures as JSON

One process, one run: every ratio compares figures measured in this run, on this machine.
It measures
  1. the tutorial pipeline exactly as written: CIFAR10 with per-image ToTensor + Normalize,
     DataLoader(batch_size=4, shuffle=True, num_workers=2), the tutorial's Net,
     SGD(lr=0.001, momentum=0.9): training images per second;
  2. the fast CPU recipe of notebook 05: the whole training set as one tensor (as_tensors),
     batches cut by TensorLoader, batch 64 with the learning rate scaled to match (0.016),
     channels_last: images per second, ratio to 1;
  3. the time each of them needs to reach a target test accuracy, and the ratio;
  4. with a CUDA GPU: the tutorial loop on the GPU, the fast GPU recipe (data resident on the GPU,
     batch 512, mixed precision, channels_last) with Net and with SmallResNet: images per second
     and ratios to 1.
Images per second are medians over ``--repeats`` passes. Time to accuracy counts training time
only; the test set is evaluated (untimed) after every chunk of ``--chunk`` training images.

The data is LAB_DATASET's (default here: the offline stand-in, generated if missing).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))
from labkit.data import (TensorLoader, as_tensors, load_dataset, profile_subset,  # noqa: E402
                         tutorial_transform)
from labkit.devices import Timer  # noqa: E402
from labkit.models import Net, SmallResNet  # noqa: E402
from labkit.settings import load_settings  # noqa: E402
from labkit.training import evaluate  # noqa: E402

# The fast CPU recipe of notebook 05: batch 64 with the learning rate scaled like the batch
# (0.001 * 64 / 4), data and model in channels_last memory layout.
FAST_BATCH, FAST_LR = 64, 0.016
GPU_BATCH, GPU_LR = 512, 0.05


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
    return info


def tutorial_images_per_second(train_set, device, n_images, repeats) -> float:
    """Recipe 1: the tutorial's loop, per-image transforms, batch 4, two worker processes."""
    subset = profile_subset(train_set, n_images)
    loader = DataLoader(subset, batch_size=4, shuffle=True, num_workers=2)
    torch.manual_seed(0)
    net = Net().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    rates = []
    for _ in range(repeats):
        with Timer(device) as t:
            for inputs, labels in loader:
                inputs, labels = inputs.to(device), labels.to(device)
                optimizer.zero_grad()
                loss = criterion(net(inputs), labels)
                loss.backward()
                optimizer.step()
        rates.append(len(subset) / t.seconds)
    return statistics.median(rates)


def fast_step_fn(model, optimizer, device, amp: bool):
    """One training step of the fast recipes (optionally in bfloat16/float16 mixed precision)."""
    criterion = nn.CrossEntropyLoss()
    use_fp16 = amp and device.type == "cuda" and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler("cuda") if use_fp16 else None
    dtype = torch.float16 if use_fp16 else torch.bfloat16

    def step(images, labels):
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=dtype, enabled=amp):
            loss = criterion(model(images), labels)
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        return loss
    return step


def fast_images_per_second(images, labels, device, model, batch, lr, repeats, amp=False,
                           channels_last=False) -> float:
    """Recipes 2 and 4: batches cut from tensors already in memory (or on the GPU)."""
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    step = fast_step_fn(model, optimizer, device, amp)
    loader = TensorLoader(images, labels, batch_size=batch, shuffle=True)
    model.train()
    for i, (x, y) in enumerate(loader):     # warm-up: allocations, cuDNN algorithm choice
        step(x, y)
        if i == 5:
            break
    rates = []
    for _ in range(repeats):
        with Timer(device) as t:
            for x, y in loader:
                step(x, y)
        rates.append(len(labels) / t.seconds)
    return statistics.median(rates)


def time_to_accuracy(make_batches, step, model, test_loader, device, target, chunk, limit_s):
    """Train until the test accuracy reaches ``target``; returns (seconds, accuracy, images)."""
    trained_s, seen, accuracy = 0.0, 0, 0.0
    while trained_s < limit_s:
        model.train()
        start_seen = seen
        with Timer(device) as t:
            for x, y in make_batches():
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


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--images", type=int, default=4000,
                        help="training images per timed pass (default 4000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per figure (median)")
    parser.add_argument("--target", type=float, default=0.6, help="target test accuracy (default 0.6)")
    parser.add_argument("--test-images", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=2000,
                        help="training images between two evaluations in the time-to-accuracy race")
    parser.add_argument("--limit", type=float, default=120,
                        help="give up a time-to-accuracy race after this many training seconds")
    parser.add_argument("--skip-accuracy", action="store_true", help="skip the time-to-accuracy race")
    args = parser.parse_args(argv)

    os.environ.setdefault("LAB_DATASET", "synthetic")
    settings = load_settings()
    info = machine()
    print(f"# train_speed  {info['date']}  {info['cpu']}, {info['cores']} cores, "
          f"torch {info['torch']} ({info['torch_threads']} threads), GPU: {info['gpu'] or 'none'}")
    print(f"# data: LAB_DATASET={settings.dataset}, {args.images:,} training images per pass, "
          f"median of {args.repeats}")
    cpu = torch.device("cpu")
    train_set = load_dataset(settings, train=True, transform=tutorial_transform())
    test_set = profile_subset(load_dataset(settings, train=False, transform=tutorial_transform()),
                              args.test_images)
    train_subset = profile_subset(train_set, args.images)
    images, labels = as_tensors(train_subset)
    test_images, test_labels = as_tensors(test_set)
    results = {"machine": info, "dataset": settings.dataset, "images_per_pass": args.images,
               "repeats": args.repeats, "rows": []}
    rows = results["rows"]

    def add(name, device, rate, reference=None):
        row = {"recipe": name, "device": device, "images_per_s": round(rate, 1),
               "ratio_to_tutorial_cpu": round(rate / reference, 2) if reference else 1.0}
        rows.append(row)
        print(f"  {name:<58} {device:<5} {rate:>10,.0f} img/s  {row['ratio_to_tutorial_cpu']:>7.1f}x",
              flush=True)

    print("\n## Images per second (training)")
    tutorial = tutorial_images_per_second(train_set, cpu, args.images, args.repeats)
    add("1. tutorial: PIL transforms, DataLoader(batch 4, 2 workers)", "cpu", tutorial)
    torch.manual_seed(0)
    fast = fast_images_per_second(images, labels, cpu, Net(), FAST_BATCH, FAST_LR, args.repeats,
                                  channels_last=True)
    add(f"2. fast CPU recipe: tensors, batch {FAST_BATCH}, channels_last", "cpu", fast, tutorial)

    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        torch.backends.cudnn.benchmark = True
        add("4a. tutorial loop on the GPU", "cuda",
            tutorial_images_per_second(train_set, gpu, args.images, args.repeats), tutorial)
        g_images, g_labels = as_tensors(train_set, device=gpu)   # the whole training set on the GPU
        torch.manual_seed(0)
        add(f"4b. fast GPU recipe: data on GPU, batch {GPU_BATCH}, AMP, channels_last (Net)", "cuda",
            fast_images_per_second(g_images, g_labels, gpu, Net().to(gpu), GPU_BATCH, GPU_LR,
                                   args.repeats, amp=True, channels_last=True), tutorial)
        torch.manual_seed(0)
        add(f"4c. same recipe, SmallResNet(width=64)", "cuda",
            fast_images_per_second(g_images, g_labels, gpu, SmallResNet().to(gpu), GPU_BATCH, GPU_LR,
                                   args.repeats, amp=True, channels_last=True), tutorial)
        results["gpu_note"] = "4b and 4c pass over the whole training set per timed pass"

    if not args.skip_accuracy:
        print(f"\n## Time to reach {args.target:.0%} test accuracy ({len(test_set):,} test images; "
              "training time only)")
        test_loader = TensorLoader(test_images, test_labels, batch_size=500)
        race = {}
        torch.manual_seed(0)
        net = Net()
        optimizer = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
        loader = DataLoader(train_set, batch_size=4, shuffle=True, num_workers=2)
        stream = endless(loader)
        race["tutorial"] = time_to_accuracy(lambda: stream, fast_step_fn(net, optimizer, cpu, False),
                                            net, test_loader, cpu, args.target, args.chunk, args.limit)
        del stream
        all_images, all_labels = as_tensors(train_set)
        all_images = all_images.contiguous(memory_format=torch.channels_last)
        torch.manual_seed(0)
        net = Net().to(memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(net.parameters(), lr=FAST_LR, momentum=0.9)
        fast_loader = TensorLoader(all_images, all_labels, batch_size=FAST_BATCH, shuffle=True)
        fast_stream = endless(fast_loader)
        race["fast"] = time_to_accuracy(lambda: fast_stream, fast_step_fn(net, optimizer, cpu, False),
                                        net, test_loader, cpu, args.target, args.chunk, args.limit)
        results["time_to_accuracy"] = {"target": args.target}
        for name, (seconds, accuracy, seen) in race.items():
            results["time_to_accuracy"][name] = {"seconds": None if seconds is None else round(seconds, 2),
                                                 "accuracy": round(accuracy, 4), "images_seen": seen}
            shown = f"{seconds:8.1f} s" if seconds is not None else f"not reached in {args.limit:.0f} s"
            print(f"  {name:<10} {shown}  (accuracy {accuracy:.1%} after {seen:,} images)")
        t_tut, t_fast = race["tutorial"][0], race["fast"][0]
        if t_tut and t_fast:
            results["time_to_accuracy"]["ratio"] = round(t_tut / t_fast, 2)
            print(f"  the fast recipe reached {args.target:.0%} {t_tut / t_fast:.1f}x sooner")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return results


if __name__ == "__main__":
    main()
