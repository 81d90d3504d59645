"""Train the tutorial's Net on several processes at once with DistributedDataParallel (DDP).

This is notebook 05's training, made distributed. Notebook 07 walks through it line by line.
Launch it with ``torchrun``, which starts one process per GPU (or per CPU core) and tells each
one who it is:

    # two processes on this machine (CPU or 2 GPUs):
    torchrun --standalone --nproc_per_node=2 train_ddp.py

    # one machine with 8 GPUs, one process per GPU, the wider network (a GPU needs the work),
    # batch 128 per GPU (1,024 in all) and a linear warm-up of the learning rate over 2 epochs:
    torchrun --standalone --nproc_per_node=gpu train_ddp.py \\
        --model resnet --batch-size 128 --lr 0.4 --warmup-epochs 2 --epochs 10

    # two machines with 8 GPUs each: the same command on both; 10.0.0.2 is the first one's
    # private address (the rendezvous numbers the machines, so no --node_rank is needed):
    torchrun --nnodes=2 --nproc_per_node=8 \\
        --rdzv_backend=c10d --rdzv_endpoint=10.0.0.2:29500 --rdzv_id=cifar-ddp-1 \\
        train_ddp.py --model resnet --batch-size 128 --lr 0.8 --warmup-epochs 2 --epochs 10

The rendezvous store (a TCPStore, also with --standalone) listens on all the machine's network
interfaces: keep the cloud firewall / security list closed to the outside. For CPU runs on one
machine, GLOO_SOCKET_IFNAME=lo (Linux) keeps Gloo's own connections on the loopback interface.

(``python -m torch.distributed.run`` is the same program as ``torchrun``.)

What each process does, in order:
    1. read its rank from the environment torchrun sets, pick its device, join the group;
    2. build the same model everywhere and wrap it in DistributedDataParallel;
    3. train on its own share of the data (DistributedSampler), while DDP averages the
       gradients of all processes during every ``loss.backward()``;
    4. add up the metrics of all processes with ``all_reduce``;
    5. rank 0 alone prints and writes the checkpoint;
    6. leave the group together after success; after an error, exit at once (torchrun then
       stops the other processes).

The run settings are the notebooks' ``LAB_*`` variables (dataset, profile, device, data folder,
output folder); the options below override the profile's epochs, batch size and learning rate,
choose the network (``--model net`` is the tutorial's, ``--model resnet`` labkit's SmallResNet)
and add a linear warm-up of the learning rate (``--warmup-epochs``). Checkpoints go to
``LAB_OUTPUT_DIR/checkpoints`` unless ``--checkpoint`` says otherwise; nothing is written under
``LAB_DATA_DIR`` except the data set itself, if it has to be fetched.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import itertools
import json
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.distributed.elastic.multiprocessing.errors import record
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, Subset, TensorDataset
from torch.utils.data.distributed import DistributedSampler

# This file sits next to labkit/, and Python puts a script's own folder on sys.path,
# so `import labkit` works whatever folder you launch from.
from labkit.data import CIFAR10_FOLDER, SYNTHETIC_FOLDER, as_tensors, dataset_status, load_datasets
from labkit.devices import pick_device
from labkit.models import Net, SmallResNet
from labkit.settings import LabError, load_settings
from labkit.training import new_history, save_checkpoint, train_one_epoch, write_atomically

#: Notebook 07's "what if one process crashes?": the rank named here raises an error after
#: its first training batch. Leave it unset in real runs.
FAIL_RANK_VARIABLE = "LAB_DDP_FAIL_RANK"


def parse_args(argv, settings):
    """The options a learner changes. Defaults come from the LAB_PROFILE profile."""
    profile = settings.profile
    parser = argparse.ArgumentParser(
        description="Train the tutorial's Net (or SmallResNet) with DistributedDataParallel. "
                    "Launch with: torchrun --standalone --nproc_per_node=2 train_ddp.py")
    parser.add_argument("--epochs", type=int, default=profile.epochs,
                        help=f"passes over the training data (profile: {profile.epochs})")
    parser.add_argument("--batch-size", type=int, default=profile.batch_size,
                        help="images per batch in EACH process; the effective batch is this "
                             f"times the number of processes (profile: {profile.batch_size})")
    parser.add_argument("--lr", type=float, default=profile.lr,
                        help=f"learning rate of SGD (profile: {profile.lr}); with several processes, "
                             "scale it with the effective batch (notebook 07, section 7)")
    parser.add_argument("--warmup-epochs", type=float, default=0.0,
                        help="raise the learning rate linearly from lr/steps to lr over this many "
                             "epochs, one step per batch (default 0: no warm-up)")
    parser.add_argument("--model", choices=("net", "resnet"), default="net",
                        help="net: the tutorial's Net (default); resnet: labkit's SmallResNet, "
                             "wide enough to keep a GPU busy")
    parser.add_argument("--width", type=int, default=64,
                        help="channels of SmallResNet's first layer (--model resnet only; default 64)")
    parser.add_argument("--checkpoint", default=str(settings.checkpoint_dir / "ddp_net.pt"),
                        help="where rank 0 saves the checkpoint after each epoch "
                             "('' to save none)")
    parser.add_argument("--json", default=None,
                        help="where rank 0 writes the final metrics and each rank's weight "
                             "checksum, as JSON (notebook 07 reads it)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same on every rank)")
    parser.add_argument("--log-every", type=int, default=20,
                        help="record the running loss every this many batches")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "log_every", "width"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.lr <= 0:
        parser.error("--lr must be positive")
    if args.warmup_epochs < 0:
        parser.error("--warmup-epochs must be 0 or more")
    return args


def log(*parts):
    """Print on rank 0 only: with 8 processes, 8 copies of every line help nobody."""
    if dist.get_rank() == 0:
        print(*parts, flush=True)


def weights_checksum(model) -> str:
    """A SHA-256 of every parameter's and buffer's bytes: equal checksums mean bit-for-bit
    equal models.

    Buffers are batch normalisation's running statistics (SmallResNet has them, Net has none).
    During training each process updates its own from its own images; before testing, the
    script copies rank 0's to every process (share_buffers), so at the end they are equal too.
    """
    digest = hashlib.sha256()
    for name, tensor in itertools.chain(model.named_parameters(), model.named_buffers()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def build_model(name: str, num_classes: int, width: int = 64) -> nn.Module:
    """The network to train: the tutorial's Net, or labkit's SmallResNet of the given width."""
    if name == "net":
        return Net(num_classes=num_classes)
    if name == "resnet":
        return SmallResNet(num_classes=num_classes, width=width)
    raise LabError(f"Unknown model {name!r}: choose 'net' or 'resnet'.")


def warmup_factor(step: int, warmup_steps: int) -> float:
    """The linear warm-up: the fraction of the full learning rate used at optimizer step ``step``
    (counted from 0): 1/warmup_steps, 2/warmup_steps, ..., then 1 for good."""
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, (step + 1) / warmup_steps)


def stepping_scheduler(loader, scheduler):
    """Yield the loader's batches; after each batch (after its optimizer step) step the scheduler.

    train_one_epoch has no scheduler argument; this wrapper gives the scheduler one step per
    batch without changing the loop.
    """
    for batch in loader:
        yield batch
        scheduler.step()


def fail_after_first_batch(loader, rank):
    """Yield the loader's batches, then raise after the first one (a simulated crash)."""
    for i, batch in enumerate(loader):
        if i == 1:
            raise RuntimeError(f"rank {rank} fails on purpose after its first batch "
                               f"({FAIL_RANK_VARIABLE}={rank})")
        yield batch


def data_is_ready(settings) -> bool:
    """Is the data set present and intact on this machine? Read-only: it only reads the files
    and compares their checksums, so any number of processes may ask at once."""
    folder = settings.data_dir / (SYNTHETIC_FOLDER if settings.dataset == "synthetic"
                                  else CIFAR10_FOLDER)
    return folder.exists() and dataset_status(settings)[0]


def share_buffers(model) -> None:
    """Give every process rank 0's buffers (batch normalisation's running statistics).

    DDP copies rank 0's buffers to the others at the start of each training forward, and then
    every process updates its own from its own batch: after the last step they differ a little.
    Testing uses them, so without this copy each rank would test a slightly different model.
    dist.broadcast(tensor, src=0) overwrites the tensor on every rank with rank 0's.
    """
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)


@torch.no_grad()
def evaluate_shard(model, loader, device, loss_fn) -> torch.Tensor:
    """Sums over this rank's share of the test set: [loss sum, correct answers, images].

    Sums (not means) so that adding the tensors of all ranks gives the totals.
    """
    model.eval()
    sums = torch.zeros(3, device=device, dtype=torch.float64)
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        outputs = model(images)
        sums[0] += loss_fn(outputs, labels).double() * len(labels)
        sums[1] += (outputs.argmax(dim=1) == labels).sum()
        sums[2] += len(labels)
    return sums


def train(args, settings):
    # ------------------------------------------------------------------------------------
    # 1. Who am I? torchrun sets these variables in every process it starts.
    #    RANK        this process's number in the whole job: 0 .. WORLD_SIZE-1
    #    LOCAL_RANK  its number on this machine: 0 .. nproc_per_node-1 (picks the GPU)
    #    WORLD_SIZE  how many processes the job has, on all machines together
    #    MASTER_ADDR, MASTER_PORT  where the processes meet (the rendezvous)
    # ------------------------------------------------------------------------------------
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ["LOCAL_RANK"])
    world_size = int(os.environ["WORLD_SIZE"])

    # Each process gets its own device: on a GPU machine, GPU number LOCAL_RANK.
    device = pick_device(settings.device)
    if device.type == "cuda":
        processes_here = int(os.environ.get("LOCAL_WORLD_SIZE", local_rank + 1))  # set by torchrun
        if processes_here > torch.cuda.device_count():   # checked alike by every process
            raise LabError(f"{processes_here} processes on this machine need {processes_here} GPUs, "
                           f"but it has {torch.cuda.device_count()}. Start at most one process "
                           "per GPU (--nproc_per_node=gpu), or set LAB_DEVICE=cpu.")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)       # so that "cuda" alone means this process's GPU

    # ------------------------------------------------------------------------------------
    # 2. Join the process group. The backend carries the messages between processes:
    #    NCCL between NVIDIA GPUs (fast, GPU to GPU), Gloo between CPU processes.
    #    init_method "env://" (the default) reads MASTER_ADDR/PORT, RANK, WORLD_SIZE.
    #    timeout: how long a process waits for the others before it gives up with an error.
    # ------------------------------------------------------------------------------------
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=10),
                            device_id=device if device.type == "cuda" else None)
    print(f"[rank {rank}] local rank {local_rank} of world size {world_size}, on {device}, "
          f"backend {backend}, {torch.get_num_threads()} CPU thread(s)", flush=True)
    log(settings.summary())

    # ------------------------------------------------------------------------------------
    # 3. The data. Every process loads the same data set (the profile's subset) ...
    #    but if it is missing or damaged, eight processes downloading it into one folder at
    #    once would trip over each other. So local rank 0 of each machine first checks it,
    #    read-only (every file's checksum), and all processes agree: all_reduce with MIN turns
    #    "1 if ready here" into "1 if ready everywhere", on every rank. If not, the machines
    #    fetch it one after the other: in turn k, local rank 0 of machine k checks again and
    #    downloads (or generates) only if it is still not ready, while every other process
    #    waits at dist.barrier(), which returns only when all processes have reached it. On a
    #    shared file system the first machine's fetch serves all, and the others find it there.
    #    (Fetching counts against the group's 10-minute timeout: on a slow link, `make data`
    #    before the job.)
    # ------------------------------------------------------------------------------------
    ready = torch.tensor([1 if local_rank != 0 or data_is_ready(settings) else 0], device=device)
    dist.all_reduce(ready, op=dist.ReduceOp.MIN)
    if ready.item() == 0:
        machine = int(os.environ.get("GROUP_RANK", 0))                 # set by torchrun
        machines = int(os.environ.get("GROUP_WORLD_SIZE", 1))
        for turn in range(machines):
            if turn == machine and local_rank == 0 and not data_is_ready(settings):
                print(f"[rank {rank}] fetching the data set into {settings.data_dir}", flush=True)
                load_datasets(settings)     # downloads or generates it, then verifies it
            dist.barrier()
    train_set, test_set = load_datasets(settings)
    train_images, train_labels = as_tensors(train_set)       # (N, 3, 32, 32), (N,) on the CPU
    test_images, test_labels = as_tensors(test_set)
    train_data = TensorDataset(train_images, train_labels)
    test_data = TensorDataset(test_images, test_labels)

    # ... and the DistributedSampler hands each process a different share of it: it shuffles
    # all indices with the same seed on every rank, then rank r takes every world_size-th one
    # starting at r. If the data does not divide evenly it repeats a few images, so that every
    # process runs the same number of batches (DDP needs every rank at every backward).
    sampler = DistributedSampler(train_data, num_replicas=world_size, rank=rank,
                                 shuffle=True, seed=args.seed)
    # shuffle must stay False here: the sampler already shuffles. The batches are CPU tensors,
    # copied to the GPU at each step; for a wide network on fast GPUs, pin_memory=True here
    # and .to(device, non_blocking=True) (notebook 06, section 6.2) keep the GPUs busier.
    train_loader = DataLoader(train_data, batch_size=args.batch_size, sampler=sampler)

    # For the test set we split by hand (rank, rank + world_size, ...) instead: no repeated
    # images, so the sums of all ranks are exactly the whole test set's.
    test_shard = Subset(test_data, range(rank, len(test_data), world_size))
    test_loader = DataLoader(test_shard, batch_size=256)

    log(f"{len(train_data):,} training images: {len(sampler):,} per process, "
        f"{len(train_loader)} batches of {args.batch_size} per process and epoch; "
        f"effective batch {args.batch_size} x {world_size} = {args.batch_size * world_size}")

    # ------------------------------------------------------------------------------------
    # 4. The model, as in notebook 05, on this process's device, wrapped in DDP.
    #    DDP copies rank 0's weights to every rank when it is created, and during every
    #    loss.backward() it averages the gradients of all ranks (an "all-reduce"), in buckets,
    #    while the rest of the backward pass is still running. After that, every rank holds
    #    the same averaged gradient, takes the same optimizer step, and keeps the same weights.
    #    device_ids: the one GPU this process uses (None on the CPU).
    # ------------------------------------------------------------------------------------
    torch.manual_seed(args.seed)
    model = build_model(args.model, len(train_set.classes), args.width).to(device)   # move BEFORE wrapping
    model = DDP(model, device_ids=[local_rank] if device.type == "cuda" else None)
    loss_fn = nn.CrossEntropyLoss()
    # The optimizer is built after DDP and sees the same parameters (model.parameters()).
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)

    # Warm-up (--warmup-epochs): with a large effective batch, the scaled learning rate is too
    # large for the very first steps, while the weights are still random. LambdaLR multiplies
    # the learning rate by warmup_factor(step): it rises linearly, batch by batch, to --lr.
    warmup_steps = round(args.warmup_epochs * len(train_loader))
    scheduler = None
    if warmup_steps > 0:
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_factor(step, warmup_steps))
        log(f"warm-up: the learning rate rises from {args.lr / warmup_steps:.3g} to {args.lr:g} "
            f"over {warmup_steps} steps ({args.warmup_epochs:g} epoch(s))")

    # Which rank crashes on purpose (tests and notebook 07 only; normally none).
    fail_rank = os.environ.get(FAIL_RANK_VARIABLE, "").strip()
    fail_rank = int(fail_rank) if fail_rank else None

    history = new_history()
    history["images_per_step"] = args.batch_size * world_size
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        epoch_start = time.perf_counter()
        # set_epoch: a different shuffle every epoch, the same on every rank.
        # Without it, every epoch would visit the images in the same order.
        sampler.set_epoch(epoch)
        loader = train_loader if scheduler is None else stepping_scheduler(train_loader, scheduler)
        if rank == fail_rank:
            loader = fail_after_first_batch(loader, rank)

        # The very same loop as notebook 05 (labkit.training.train_one_epoch): DDP hides all
        # the communication inside loss.backward(). No progress bar: one line per epoch.
        train_loss = train_one_epoch(model, loader, loss_fn, optimizer, device, history=history,
                                     log_every=args.log_every, progress=False)

        # Each rank only knows its own loss. all_reduce(SUM) adds the tensors of all ranks
        # and gives every rank the total; divided by world_size it is the mean (every rank
        # saw the same number of images, thanks to the sampler).
        metrics = torch.tensor([train_loss], device=device, dtype=torch.float64)
        dist.all_reduce(metrics, op=dist.ReduceOp.SUM)
        train_loss = metrics.item() / world_size

        # Test on the plain model (model.module): evaluation needs no gradient averaging,
        # and each rank tests a different share, then the sums are added up. First every rank
        # takes rank 0's batch-norm statistics, so that all test the same model (Net has none).
        share_buffers(model.module)
        sums = evaluate_shard(model.module, test_loader, device, loss_fn)
        dist.all_reduce(sums, op=dist.ReduceOp.SUM)
        test_loss, test_accuracy = (sums[0] / sums[2]).item(), (sums[1] / sums[2]).item()

        history["epoch"].append(epoch)
        history["train_loss"].append(train_loss)
        history["test_loss"].append(test_loss)
        history["test_accuracy"].append(test_accuracy)
        history["seconds"].append(time.perf_counter() - epoch_start)
        history.setdefault("lr", []).append(optimizer.param_groups[0]["lr"])
        log(f"epoch {epoch}: train loss {train_loss:.3f}, test loss {test_loss:.3f}, "
            f"test accuracy {test_accuracy:.1%} ({history['seconds'][-1]:.1f} s)")

        # --------------------------------------------------------------------------------
        # 5. Only rank 0 writes the checkpoint: the weights are the same everywhere, and
        #    eight processes writing one file at once would corrupt it. model.module is the
        #    plain Net, so the checkpoint loads into a Net without DDP (no "module." prefix).
        #    save_checkpoint writes a temporary file and renames it: never half a checkpoint.
        # --------------------------------------------------------------------------------
        if rank == 0 and args.checkpoint:
            path = save_checkpoint(args.checkpoint, model.module, optimizer, history,
                                   world_size=world_size, saved_by_rank=rank)
            log(f"[rank {rank}] saved checkpoint {path}")

    train_seconds = time.perf_counter() - start

    # Every rank computes a checksum of its weights; all_gather_object collects them all on
    # every rank. Identical checksums prove that DDP kept the copies in step.
    checksums = [None] * world_size
    dist.all_gather_object(checksums, weights_checksum(model.module))
    log("weight checksums: " + ", ".join(f"rank {r} {c[:12]}" for r, c in enumerate(checksums))
        + ("  (all equal)" if len(set(checksums)) == 1 else "  (DIFFERENT!)"))
    if rank == 0 and args.json:
        result = {"world_size": world_size, "backend": backend, "device": device.type,
                  "epochs": args.epochs, "batch_size_per_process": args.batch_size,
                  "effective_batch_size": args.batch_size * world_size, "lr": args.lr,
                  "model": args.model, "warmup_epochs": args.warmup_epochs,
                  "threads_per_process": torch.get_num_threads(),
                  "train_seconds": train_seconds, "checksums": checksums,
                  "test_accuracy": history["test_accuracy"][-1], "history": history}
        write_atomically(args.json, (json.dumps(result, indent=1) + "\n").encode())  # never half a file
    log(f"done: {args.epochs} epoch(s) on {world_size} process(es) in {train_seconds:.1f} s")
    dist.barrier()        # leave together: no process tears the group down while another still uses it


def error(message) -> int:
    """A problem the learner can fix (a LabError): one line, from rank 0 only (every process
    meets the same wrong setting), instead of a traceback from every process."""
    if os.environ.get("RANK", "0") == "0":
        print(f"error: {message}", file=sys.stderr, flush=True)
    return 1


# @record: if this process raises, torchrun's error report shows its traceback, and names
# it as the root cause when it was the first process to fail.
@record
def main(argv=None) -> int:
    try:   # a wrong LAB_* setting is one message, also for --help (the defaults need the settings)
        settings = load_settings()
    except LabError as e:
        return error(e)
    args = parse_args(argv, settings)
    if "RANK" not in os.environ:
        print("error: train_ddp.py runs under torchrun, which starts the processes and sets "
              "RANK, LOCAL_RANK and WORLD_SIZE. Run for example:\n"
              "    torchrun --standalone --nproc_per_node=2 train_ddp.py", file=sys.stderr)
        return 2
    try:
        train(args, settings)
    except LabError as e:
        return error(e)
    # 6. Leave the group after success only: every process has passed the barrier at the end
    #    of train(), so none is still communicating; this frees the sockets (Gloo) or the GPU
    #    communicators (NCCL). After an error there is no `finally` on purpose: with NCCL,
    #    tearing the group down while another process still waits in a collective can hang
    #    this process for good. The error propagates instead, the process exits non-zero (the
    #    operating system frees what it held), and torchrun stops the other processes.
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
