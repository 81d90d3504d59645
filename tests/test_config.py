"""The set-up files agree with each other and do what the README promises: `make lab` is private
and refuses a busy port, the version floor is stated once and proven, nothing edits sys.path."""

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def recipe(target):
    makefile = (ROOT / "Makefile").read_text()
    return makefile.split(f"\n{target}:", 1)[1].split("\n\n", 1)[0]


def test_make_lab_binds_to_localhost_with_a_token_and_never_moves_port():
    lab = recipe("lab")
    config = (ROOT / "tools" / "jupyterlab" / "jupyter_server_config.py").read_text()
    assert "--config=tools/jupyterlab/jupyter_server_config.py" in lab      # one configuration, also the UI test's
    assert 'c.ServerApp.ip = "127.0.0.1"' in config and "c.ServerApp.port_retries = 0" in config
    assert "jupyter_server_config.py" in (ROOT / "tests_ui" / "test_ui.py").read_text()
    assert "tools/port_free.py $(PORT)" in lab
    lab += config
    for forbidden in ("0.0.0.0", "token=''", 'token=""', "token= ", "--no-token", "disable_check_xsrf"):
        assert forbidden not in lab


def test_a_busy_port_is_a_clear_error_before_jupyter_starts():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = subprocess.run([sys.executable, "tools/port_free.py", str(port)], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in r.stderr and f"PORT={port + 1}" in r.stderr
    r = subprocess.run([sys.executable, "tools/port_free.py", str(port)], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_jupyterlab_news_and_update_checks_are_off():
    overrides = json.loads((ROOT / "tools/jupyterlab/overrides.json").read_text())
    notification = overrides["@jupyterlab/apputils-extension:notification"]
    assert notification["fetchNews"] == "false" and notification["checkForUpdates"] is False
    assert "tools/jupyterlab/overrides.json" in (ROOT / "Makefile").read_text()


def _floor(text, name):
    m = re.search(rf"^\s*-?\s*{name}\s*>=\s*([0-9.]+)", text, re.M)
    assert m, f"no floor for {name}"
    return tuple(int(x) for x in m.group(1).split("."))


def test_the_version_floor_is_stated_once_everywhere_and_admits_the_gpu_machines_torch():
    requirements = (ROOT / "requirements.txt").read_text()
    conda = (ROOT / "environment.yml").read_text()
    oldest = re.search(r"OLDEST_TORCH := torch==([0-9.]+) torchvision==([0-9.]+)",
                       (ROOT / "Makefile").read_text())
    torch_floor, vision_floor = _floor(requirements, "torch"), _floor(requirements, "torchvision")
    assert _floor(conda, "pytorch") == torch_floor and _floor(conda, "torchvision") == vision_floor
    assert tuple(int(x) for x in oldest.group(1).split("."))[:2] == torch_floor[:2]
    assert tuple(int(x) for x in oldest.group(2).split("."))[:2] == vision_floor[:2]
    assert torch_floor <= (2, 11) and vision_floor <= (0, 26)   # the GPU machines' releases


def test_constraints_pin_releases_the_requirements_allow():
    pins = dict(line.split("==", 1) for line in (ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    requirements = (ROOT / "requirements.txt").read_text()
    for name in ("torch", "torchvision", "numpy", "matplotlib", "tqdm", "jupyterlab", "nbval", "pytest"):
        version = tuple(int(x) for x in re.match(r"[0-9.]+", pins[name]).group(0).rstrip(".").split("."))
        assert version >= _floor(requirements, name), name


@pytest.mark.parametrize("folder", ["tests", "tools", "benchmarks", "notebooks"])
def test_nothing_edits_sys_path_to_find_the_projects_code(folder):
    """labkit is installed (pip install -e .), and tools are imported by path, not via sys.path.
    (tools/gpu_check.py may add the private folder it installs missing wheels into.)"""
    pattern = re.compile(r"sys\.path\.(insert|append)\(.*(ROOT|notebooks|parents\[|__file__)")
    offenders = [f"{p.relative_to(ROOT)}: {line.strip()}" for p in (ROOT / folder).rglob("*.py")
                 if p != Path(__file__).resolve()
                 for line in p.read_text().splitlines() if pattern.search(line)]
    offenders += [str(p.relative_to(ROOT)) for p in (ROOT / folder).glob("*.ipynb")
                  if "sys.path" in p.read_text()]
    assert offenders == []


def test_no_instructions_to_run_from_the_notebooks_folder():
    texts = [ROOT / "README.md", *ROOT.glob("labs/**/*.md"), *ROOT.glob("notebooks/*.ipynb")]
    offenders = [str(p.relative_to(ROOT)) for p in texts
                 if re.search(r"cd notebooks|from `?notebooks/`?\)|run it from .?notebooks", p.read_text())]
    assert offenders == []


def _port_in_time_wait() -> int:
    """A port whose server closed a connection first and then stopped: it sits in TIME-WAIT.
    The server sets SO_REUSEADDR, as Jupyter's (tornado's) does."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        conn, _ = server.accept()
        conn.close()                  # the server closes first: its side goes to TIME-WAIT
        client.recv(1)
        client.close()
    return port


@pytest.mark.skipif(sys.platform == "win32", reason="TIME-WAIT and SO_REUSEADDR work differently there")
def test_a_port_in_time_wait_after_a_restart_is_free_as_jupyter_sees_it():
    port = _port_in_time_wait()
    with socket.socket() as plain:   # the precondition: a bind without SO_REUSEADDR fails here
        with pytest.raises(OSError):
            plain.bind(("127.0.0.1", port))
    r = subprocess.run([sys.executable, "tools/port_free.py", str(port)], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"a port in TIME-WAIT is free for Jupyter (SO_REUSEADDR): {r.stderr}"


def test_gpu_checks_version_floor_is_requirements_txts():
    requirements = (ROOT / "requirements.txt").read_text()
    source = (ROOT / "tools/gpu_check.py").read_text()
    floor = re.search(r'FLOOR = \{"torch": \((\d+), (\d+)\), "torchvision": \((\d+), (\d+)\)\}', source)
    assert floor, "tools/gpu_check.py should state FLOOR = {\"torch\": (x, y), \"torchvision\": (x, y)}"
    torch_floor, vision_floor = tuple(map(int, floor.groups()[:2])), tuple(map(int, floor.groups()[2:]))
    assert torch_floor == _floor(requirements, "torch")[:2]
    assert vision_floor == _floor(requirements, "torchvision")[:2]
    stated = f"torch>={torch_floor[0]}.{torch_floor[1]}, torchvision>={vision_floor[0]}.{vision_floor[1]}"
    assert stated in source, f"gpu_check.py's message should say {stated!r}"
