"""A class on one machine: one shared, read-only data folder, and one output folder per learner.

Two learners (two processes, two LAB_OUTPUT_DIRs) train at the same time against a data folder
that is really read-only for them: a read-only bind mount when the tests run as root (chmod
does not stop root), file modes otherwise. Neither may damage the data or the other's files."""

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from labkit.standin import SYNTHETIC_FOLDER

LEARNER = textwrap.dedent("""
    import sys, torch, torch.nn as nn
    from torch.utils.data import Subset
    from labkit.data import load_datasets, make_loaders, tutorial_transform
    from labkit.models import Net
    from labkit.settings import load_settings
    from labkit.standin import prepare_offline
    from labkit.training import fit, load_checkpoint

    settings = load_settings()
    prepare_offline(settings.data_dir)          # what `make data` does: present and verified, so no write
    train_set, test_set = load_datasets(settings, transform=tutorial_transform())
    train_loader, test_loader = make_loaders(Subset(train_set, range(400)), Subset(test_set, range(100)),
                                             batch_size=50)
    torch.manual_seed(int(sys.argv[1]))
    net = Net()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    path = settings.checkpoint_dir / "net.pt"
    fit(net, train_loader, test_loader, nn.CrossEntropyLoss(), optimizer, "cpu", epochs=2,
        checkpoint_path=path, progress=False)
    print("history", load_checkpoint(path, Net())["history"]["epoch"])
""")


def _digest(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def read_only_data(stand_in_root, tmp_path):
    """A copy of the data folder, mounted (or, without root, moded) read-only."""
    source = tmp_path / "instructor-data"
    shutil.copytree(stand_in_root / SYNTHETIC_FOLDER, source / SYNTHETIC_FOLDER)
    shared = tmp_path / "shared-data"
    shared.mkdir()
    mounted = False
    if os.geteuid() == 0:
        r = subprocess.run(["mount", "--bind", str(source), str(shared)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot bind-mount here: {r.stderr.strip()}")
        mounted = True
        subprocess.run(["mount", "-o", "remount,ro,bind", str(shared)], check=True)
    else:
        shared.rmdir()
        shutil.copytree(source, shared)
        for p in [shared, *shared.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        with pytest.raises(OSError):           # really read-only, even for root
            (shared / SYNTHETIC_FOLDER / "planted").write_text("x")
        yield shared
    finally:
        if mounted:
            subprocess.run(["umount", str(shared)], check=False)


@pytest.mark.slow     # two learners train at once, in two processes
def test_two_learners_share_read_only_data_and_keep_their_own_outputs(read_only_data, tmp_path):
    data_before = _digest(read_only_data)
    outputs = {name: tmp_path / f"outputs-{name}" for name in ("ada", "ben")}
    procs = {}
    for seed, (name, out) in enumerate(outputs.items()):
        env = {**os.environ, "LAB_DATASET": "synthetic", "LAB_PROFILE": "smoke",
               "LAB_DATA_DIR": str(read_only_data), "LAB_OUTPUT_DIR": str(out), "OMP_NUM_THREADS": "1"}
        procs[name] = subprocess.Popen([sys.executable, "-c", LEARNER, str(seed)], env=env, cwd=tmp_path,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {name: p.communicate(timeout=600) for name, p in procs.items()}
    for name, (out, err) in results.items():
        assert procs[name].returncode == 0, f"{name}: {err}"
        assert "history [1, 2]" in out
    # Each learner wrote only into their own folder; the two checkpoints are their own runs.
    for out in outputs.values():
        assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["checkpoints",
                                                                               "checkpoints/net.pt"]
    ada, ben = (hashlib.md5((o / "checkpoints" / "net.pt").read_bytes()).hexdigest() for o in outputs.values())
    assert ada != ben
    assert _digest(read_only_data) == data_before     # the shared data is untouched


def test_a_damaged_shared_stand_in_is_named_and_points_to_its_owner(read_only_data, tmp_path):
    """Learners cannot repair a shared read-only folder: the message says who can."""
    from labkit.settings import LabError
    from labkit.standin import prepare_offline
    # Damage is simulated by asking for another size than the shared copy holds.
    with pytest.raises(LabError) as e:
        prepare_offline(read_only_data, n_train=400, n_test=100, quiet=True)
    assert "Cannot write the offline stand-in" in str(e.value) and "make data" in str(e.value)
    assert not any(p.name.startswith(".") for p in read_only_data.iterdir())
