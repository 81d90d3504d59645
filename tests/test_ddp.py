"""notebooks/train_ddp.py under torchrun: two CPU processes (Gloo), a clean run and a crash.

Each test starts `python -m torch.distributed.run --standalone --nproc_per_node=2` (the same
program as `torchrun`) in its own empty folder, in its own session so that a hang can be killed
as a whole, with a timeout so that a hang fails the test instead of blocking CI.
`--standalone` lets torchrun pick a free port, so two runs never share a rendezvous.
Always on the CPU (LAB_DEVICE=cpu): a 1-GPU machine cannot hold two NCCL ranks.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "notebooks" / "train_ddp.py"
TIMEOUT = 180  # seconds; a healthy run takes about 10-20 s on 2 cores


def _train_ddp():
    """notebooks/train_ddp.py, imported by its path (it is a script, not part of the package)."""
    return _probe().load_train_ddp()


def torchrun(workdir: Path, *args, nproc=2, env=None):
    """Run train_ddp.py under torchrun in ``workdir``; returns (exit code, output, seconds)."""
    workdir.mkdir(parents=True, exist_ok=True)
    environ = dict(os.environ, LAB_DEVICE="cpu", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    environ.pop("LAB_DDP_FAIL_RANK", None)  # a stale value in the shell would crash a clean run
    environ.update(env or {})
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", str(SCRIPT), *args]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=workdir, env=environ, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # torchrun and its workers: the session we started
        output, _ = proc.communicate()
        pytest.fail(f"torchrun did not finish within {TIMEOUT} s (a hang?). Output:\n{output}")
    return proc.returncode, output, time.perf_counter() - start


def surviving_processes(marker: str) -> list[str]:
    """Live processes whose command line contains ``marker`` (zombies excluded)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    found = []
    if psutil is not None:
        for p in psutil.process_iter(["pid", "cmdline", "status"]):
            cmdline = " ".join(p.info["cmdline"] or [])
            if marker in cmdline and p.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(f"{p.info['pid']}: {cmdline}")
        return found
    if not Path("/proc").is_dir():
        pytest.skip("needs psutil or /proc to list processes")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # the process ended while we looked
        if marker in cmdline and state != "Z":
            found.append(f"{entry.name}: {cmdline}")
    return found


def assert_no_survivors(marker: str, grace: float = 5.0):
    deadline = time.monotonic() + grace
    while (left := surviving_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, "train_ddp.py processes survived the job:\n" + "\n".join(left)


@pytest.mark.slow     # torchrun: two processes, each importing torch
def test_two_processes_train_in_step(tmp_path):
    run = tmp_path / "run"
    rc, output, seconds = torchrun(run, "--epochs", "2", "--checkpoint", str(run / "net.pt"),
                                   "--json", str(run / "result.json"))
    assert rc == 0, f"torchrun failed (exit code {rc}) after {seconds:.0f} s:\n{output}"

    # Only the checkpoint and the metrics appear: no per-rank copies, no temporary files.
    assert sorted(p.name for p in run.iterdir()) == ["net.pt", "result.json"], output

    result = json.loads((run / "result.json").read_text())
    assert result["world_size"] == 2 and result["backend"] == "gloo"
    assert result["effective_batch_size"] == 2 * result["batch_size_per_process"]
    # DDP keeps the copies identical, bit for bit.
    assert len(result["checksums"]) == 2
    assert result["checksums"][0] == result["checksums"][1], "the ranks ended with different weights"
    assert result["test_accuracy"] > 0.2, f"no better than chance: {result['test_accuracy']:.1%}"
    assert len(result["history"]["train_loss"]) == 2

    # Every rank started and said who it is; only rank 0 saved, once per epoch.
    assert "[rank 0] local rank 0 of world size 2" in output
    assert "[rank 1] local rank 1 of world size 2" in output
    saves = [line for line in output.splitlines() if "saved checkpoint" in line]
    assert len(saves) == 2 and all(line.startswith("[rank 0]") for line in saves), output

    # The checkpoint is a plain Net (no "module." prefix) holding the final, shared weights.
    from labkit.models import Net
    from labkit.training import load_checkpoint
    weights_checksum = _train_ddp().weights_checksum
    model = Net()
    state = load_checkpoint(run / "net.pt", model)
    assert state["saved_by_rank"] == 0 and state["world_size"] == 2
    assert weights_checksum(model) == result["checksums"][0]
    assert_no_survivors(str(run))


@pytest.mark.full
@pytest.mark.slow
def test_a_crashing_rank_stops_the_whole_job(tmp_path):
    run = tmp_path / "crash"
    rc, output, seconds = torchrun(run, "--epochs", "1", "--checkpoint", str(run / "net.pt"),
                                   env={"LAB_DDP_FAIL_RANK": "1"})
    assert rc != 0, f"the job should fail when rank 1 raises:\n{output}"
    assert "rank 1 fails on purpose after its first batch" in output, output
    # torchrun's report names the first process that failed as the root cause.
    assert "Root Cause" in output, output
    assert "rank 1 fails on purpose" in output[output.index("Root Cause"):], output
    assert not (run / "net.pt").exists(), "no epoch finished, so no checkpoint should exist"
    assert list(run.iterdir()) == [], "the crash left files behind"
    assert_no_survivors(str(run))


@pytest.mark.filterwarnings("ignore:Unable to enable fault handler")  # @record under pytest
def test_without_torchrun_it_says_how_to_launch(monkeypatch, capsys):
    train_ddp = _train_ddp()
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert train_ddp.main([]) == 2
    assert "torchrun --standalone --nproc_per_node=2 train_ddp.py" in capsys.readouterr().err


def test_options_default_to_the_profile(settings):
    parse_args = _train_ddp().parse_args
    args = parse_args([], settings)
    p = settings.profile
    assert (args.epochs, args.batch_size, args.lr) == (p.epochs, p.batch_size, p.lr)
    args = parse_args(["--epochs", "1", "--batch-size", "64", "--lr", "0.08"], settings)
    assert (args.epochs, args.batch_size, args.lr) == (1, 64, 0.08)
    with pytest.raises(SystemExit):
        parse_args(["--batch-size", "0"], settings)


def test_model_and_warmup_options(settings):
    build_model, parse_args = _train_ddp().build_model, _train_ddp().parse_args
    args = parse_args(["--model", "resnet", "--width", "8", "--warmup-epochs", "1.5"], settings)
    assert (args.model, args.width, args.warmup_epochs) == ("resnet", 8, 1.5)
    assert parse_args([], settings).model == "net" and parse_args([], settings).warmup_epochs == 0
    for bad in (["--model", "vgg"], ["--warmup-epochs", "-1"], ["--width", "0"]):
        with pytest.raises(SystemExit):
            parse_args(bad, settings)
    from labkit.models import Net, SmallResNet
    assert isinstance(build_model("net", 10), Net)
    resnet = build_model("resnet", 10, width=8)
    assert isinstance(resnet, SmallResNet) and resnet.layers[0][0].out_channels == 8


def test_warmup_raises_the_lr_linearly_once_per_batch():
    import torch
    stepping_scheduler, warmup_factor = _train_ddp().stepping_scheduler, _train_ddp().warmup_factor
    assert [warmup_factor(s, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(0, 0) == 1.0
    w = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([w], lr=0.8, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_factor(step, 4))
    seen = []
    for _batch in stepping_scheduler(range(6), scheduler):     # what train_one_epoch's loop does
        seen.append(optimizer.param_groups[0]["lr"])            # the lr this batch's step uses
        w.grad = torch.ones(1)
        optimizer.step()
    assert seen == pytest.approx([0.2, 0.4, 0.6, 0.8, 0.8, 0.8])


def test_one_process_trains_a_small_resnet_with_warmup(tmp_path, monkeypatch, settings):
    # In this process, as a world of one (no torchrun): the --model and --warmup-epochs paths.
    import socket

    import torch.distributed as dist
    parse_args, train = _train_ddp().parse_args, _train_ddp().train
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for name, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": str(port), "LAB_DEVICE": "cpu"}.items():
        monkeypatch.setenv(name, value)
    train_ddp = _train_ddp()
    from labkit.data import profile_subset
    from labkit.settings import load_settings
    real_load = train_ddp.load_datasets

    def small_datasets(settings):                          # 256 + 128 images: seconds, not minutes
        train_set, test_set = (getattr(d, "dataset", d) for d in real_load(settings))
        return profile_subset(train_set, 256), profile_subset(test_set, 128)

    monkeypatch.setattr(train_ddp, "load_datasets", small_datasets)
    settings = load_settings()
    args = parse_args(["--model", "resnet", "--width", "4", "--epochs", "1", "--batch-size", "32",
                       "--lr", "0.05", "--warmup-epochs", "0.5", "--checkpoint", "",
                       "--json", str(tmp_path / "result.json")], settings)
    try:
        train(args, settings)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["model"] == "resnet" and result["warmup_epochs"] == 0.5
    assert result["history"]["lr"] == [pytest.approx(0.05)], "after the warm-up the lr is --lr"
    assert result["world_size"] == 1 and len(result["history"]["train_loss"]) == 1
    assert result["history"]["batches"] == 8               # 256 images in batches of 32


# ----------------------------------------------------------------------------------------------
# What data parallelism means, checked rank by rank (tests/ddp_probe.py records each rank's view)
# ----------------------------------------------------------------------------------------------

def _probe():
    import importlib.util
    spec = importlib.util.spec_from_file_location("ddp_probe", Path(__file__).with_name("ddp_probe.py"))
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    return probe


def test_one_process_trains_on_every_image_reshuffled_each_epoch_and_tests_each_once(
        tmp_path, monkeypatch, settings):
    """A world of one, in this process: the sampler's order, the logged loss, the test count."""
    import socket

    import torch.distributed as dist
    probe = _probe()
    train_ddp = probe.load_train_ddp()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for name, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": str(port), "LAB_DEVICE": "cpu"}.items():
        monkeypatch.setenv(name, value)
    from labkit.data import profile_subset
    from labkit.settings import load_settings
    real_load = train_ddp.load_datasets

    def small_datasets(settings):                          # 256 + 128 images: seconds, not minutes
        train_set, test_set = (getattr(d, "dataset", d) for d in real_load(settings))
        return profile_subset(train_set, 256), profile_subset(test_set, 128)

    monkeypatch.setattr(train_ddp, "load_datasets", small_datasets)
    records = probe.new_records()
    probe.install(train_ddp, records, patch=monkeypatch.setattr)
    settings = load_settings()
    args = train_ddp.parse_args(["--epochs", "2", "--batch-size", "64", "--checkpoint", "",
                                 "--json", str(tmp_path / "result.json")], settings)
    try:
        train_ddp.train(args, settings)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    result = json.loads((tmp_path / "result.json").read_text())
    first, second = records["train_indices"]
    assert sorted(first) == sorted(second) == list(range(256)), "every image, once per epoch"
    assert first != second, "sampler.set_epoch should give every epoch its own shuffle"
    assert result["history"]["train_loss"] == records["train_loss"], "one rank: its own loss"
    assert records["test_indices"] == [list(range(128))] * 2, "the whole test set, each image once"
    assert [sums[2] for sums in records["test_sums"]] == [128, 128]
    correct = records["test_sums"][-1][1]
    assert result["test_accuracy"] == pytest.approx(correct / 128)


@pytest.mark.slow
def test_two_ranks_split_the_data_and_the_missing_data_is_fetched_once(tmp_path):
    """Two processes (torchrun, Gloo) on an empty data folder: local rank 0 generates the (small)
    stand-in while rank 1 waits; then disjoint shards that cover the training set, a new shuffle
    each epoch, the logged loss the mean of the ranks' losses, every test image counted once."""
    run, records_dir, data_dir = tmp_path / "run", tmp_path / "records", tmp_path / "empty-data"
    run.mkdir()
    data_dir.mkdir()
    environ = dict(os.environ, LAB_DEVICE="cpu", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1",
                   LAB_DATASET="synthetic", LAB_DATA_DIR=str(data_dir), LAB_DDP_PROBE_DIR=str(records_dir),
                   LAB_DDP_PROBE_SMALL="1")
    environ.pop("LAB_DDP_FAIL_RANK", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(Path(__file__).with_name("ddp_probe.py")), "--epochs", "2", "--checkpoint", "",
           "--json", str(run / "result.json")]
    proc = subprocess.Popen(cmd, cwd=run, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"torchrun did not finish within {TIMEOUT} s (a hang?). Output:\n{output}")
    assert proc.returncode == 0, output
    ranks = [json.loads((records_dir / f"rank{r}.json").read_text()) for r in (0, 1)]
    result = json.loads((run / "result.json").read_text())
    n_train, n_test = 500, 100

    # The data was missing: it was generated once, by local rank 0, before rank 1 read it.
    assert output.count("Generating the offline stand-in") == 1, output
    (_, end0), (start1, _) = ranks[0]["load"][0], ranks[1]["load"][0]
    assert start1 >= end0, "rank 1 read the data while rank 0 was still generating it"

    for epoch in range(2):
        shards = [set(r["train_indices"][epoch]) for r in ranks]
        assert not shards[0] & shards[1], f"epoch {epoch + 1}: the ranks' shards overlap"
        assert shards[0] | shards[1] == set(range(n_train)), "together the shards cover the data"
        assert len(ranks[0]["train_indices"][epoch]) == n_train // 2
    for r in ranks:
        assert r["train_indices"][0] != r["train_indices"][1], "set_epoch: a new shuffle each epoch"

    # The loss printed and logged is the mean of the two ranks' losses, epoch by epoch.
    means = [(a + b) / 2 for a, b in zip(ranks[0]["train_loss"], ranks[1]["train_loss"])]
    assert result["history"]["train_loss"] == pytest.approx(means, rel=1e-12)
    assert ranks[0]["train_loss"] != ranks[1]["train_loss"], "each rank's loss is its own shard's"

    # Every test image evaluated exactly once, and the totals are the whole test set's.
    tested = ranks[0]["test_indices"][-1] + ranks[1]["test_indices"][-1]
    assert sorted(tested) == list(range(n_test))
    assert sum(r["test_sums"][-1][2] for r in ranks) == n_test
    correct = sum(r["test_sums"][-1][1] for r in ranks)
    assert result["test_accuracy"] == pytest.approx(correct / n_test)
    assert result["checksums"][0] == result["checksums"][1]


# ----------------------------------------------------------------------------------------------
# A wrong setting: one line, from rank 0, also for --help
# ----------------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:Unable to enable fault handler")  # @record under pytest
@pytest.mark.parametrize("rank", [None, "0", "1"])
def test_a_wrong_setting_is_one_line_from_rank_0_also_for_help(monkeypatch, capsys, rank):
    train_ddp = _probe().load_train_ddp()
    monkeypatch.setenv("LAB_PROFILE", "fast")
    if rank is None:
        monkeypatch.delenv("RANK", raising=False)
    else:
        monkeypatch.setenv("RANK", rank)
    assert train_ddp.main(["--help"]) == 1
    err = capsys.readouterr().err
    if rank == "1":
        assert err == "", "only rank 0 prints: every process meets the same wrong setting"
    else:
        assert err.count("\n") == 1 and err.startswith("error: LAB_PROFILE='fast' is not a known value")


@pytest.mark.full
@pytest.mark.slow
def test_a_wrong_device_under_torchrun_is_one_message_not_a_traceback_per_process(tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("needs a machine without a GPU (LAB_DEVICE=cuda must fail)")
    rc, output, seconds = torchrun(tmp_path / "run", "--epochs", "1", "--checkpoint", "",
                                   env={"LAB_DEVICE": "cuda"})
    assert rc != 0, output
    ours = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(ours) == 1 and "LAB_DEVICE=cuda" in ours[0], output
    assert "labkit/devices.py" not in output and "train_ddp.py\", line" not in output, (
        f"a traceback through the script instead of one message:\n{output}")
