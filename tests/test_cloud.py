"""Colab and Kaggle (tools/cloud.py), tested here as far as this machine allows.

- The setup cell is the same in every notebook, generated from labs/variables/variables.json, and the
  pictures, the README's table, notebook 00's map and the labs' links are current.
- On a simulated Colab and a simulated Kaggle (the platform's environment variable, a local bare git
  repository as the workshop's address, and a fresh virtual environment without labkit), the setup
  cell clones the workshop, installs labkit, moves into notebooks/, and then the settings cell and
  notebook 00 run there; running the setup cell again does not clone again.
- Anywhere else (no platform variable), the setup cell does nothing: no clone, no install, no chdir.
What only the platforms themselves can show (their GPUs, their pip, their rendering of attachments) is
listed in labs/free-gpu/free-gpu.md.
"""

import base64
import importlib.util
import json
import os
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

spec = importlib.util.spec_from_file_location("cloud", ROOT / "tools" / "cloud.py")
cloud = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cloud)
NOTEBOOKS = cloud.notebooks()


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_generated_parts_are_current():
    stale = cloud.plan()
    assert not stale, (f"out of date: {sorted(str(p.relative_to(ROOT)) for p in stale)}. "
                       "Run: python tools/cloud.py --write")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_same_setup_cell_comes_first(path):
    code = [c for c in load(path)["cells"] if c["cell_type"] == "code"]
    assert code and code[0].get("id") == cloud.SETUP_ID, f"{path.name}: the setup cell is not the first code cell"
    assert "".join(code[0]["source"]) == cloud.setup_source()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_pictures_travel_inside_the_notebook(path):
    for cell in load(path)["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        assert "](../images/" not in text, f"{path.name}: a relative picture link does not resolve on Colab"
        for name in cloud.PICTURE.findall(text):
            data = next(iter(cell["attachments"][name[1]].values()))
            assert base64.b64decode(data) == (ROOT / "images" / name[1]).read_bytes(), \
                f"{path.name}: attachment {name[1]} differs from images/{name[1]}"


def test_links_follow_the_variables():
    values = {"repo_url": "https://github.com/someone/fork", "repo_dir": "fork", "repo_ref": "v2"}
    assert cloud.colab_url("05_training_and_evaluation", values) == \
        "https://colab.research.google.com/github/someone/fork/blob/v2/notebooks/05_training_and_evaluation.ipynb"
    assert cloud.kaggle_url("00_setup_check", values).endswith(
        "?src=https://github.com/someone/fork/blob/v2/notebooks/00_setup_check.ipynb")
    assert 'WORKSHOP_URL, WORKSHOP_REF = "https://github.com/someone/fork", "v2"' in cloud.setup_source(values)
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert cloud.links(path.stem) in readme, f"README: no Colab/Kaggle links for {path.stem}"


# ------------------------------------------------------------------------------------------
# A simulated platform
# ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bare_repo(tmp_path_factory):
    """The workshop's committed state as a bare repository, with the branch the setup cell asks for."""
    bare = tmp_path_factory.mktemp("remote") / "workshop.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(ROOT), str(bare)], check=True)
    ref = cloud.variables()["repo_ref"]
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    subprocess.run(["git", "-C", str(bare), "branch", "--force", ref, head], check=True, capture_output=True)
    return bare


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory):
    """A new virtual environment without labkit. It sees this environment's packages (torch, ipykernel,
    setuptools, ...) through a .pth line, which does not run that environment's own .pth files, so
    labkit's editable install here stays invisible there."""
    where = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(with_pip=False).create(where)
    python = where / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run([str(python), "-c", "import labkit"], capture_output=True, text=True, cwd=where)
    assert r.returncode != 0 and "No module named 'labkit'" in r.stderr, "the fresh environment already has labkit"
    kernels = where.parent / "jupyter" / "kernels" / "fresh"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh", "language": "python"}))
    return python, where.parent / "jupyter"


def _run(cells, cwd, kernel="python3", timeout=300):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=timeout, kernel_name=kernel, resources={"metadata": {"path": str(cwd)}}).execute()
    return ["".join(o.get("text", "") for o in c.outputs if o.get("output_type") == "stream") for c in nb.cells]


def _setup_for(bare) -> str:
    src = cloud.setup_source()
    url = cloud.variables()["repo_url"]
    assert src.count(f'"{url}"') == 1
    return src.replace(f'"{url}"', json.dumps(str(bare)))


PROBE = ("import os, labkit, importlib.metadata as md\n"
         "print('cwd', os.getcwd()); print('labkit', labkit.__file__); print('dist', md.distribution('labkit')._path)")


@pytest.mark.paths
@pytest.mark.slow
@pytest.mark.parametrize("platform", ["colab", "kaggle"])
def test_on_a_simulated_platform(platform, bare_repo, fresh_python, tmp_path, monkeypatch):
    python, jupyter_path = fresh_python
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_path))
    monkeypatch.setenv("COLAB_RELEASE_TAG" if platform == "colab" else "KAGGLE_KERNEL_RUN_TYPE", "simulated")
    monkeypatch.setenv("LAB_WORKSHOP_DIR", str(home))
    monkeypatch.setenv("LAB_DATA_DIR", str(ROOT / "data"))      # the data folder a class shares
    monkeypatch.setenv("LAB_DATASET", "synthetic")
    monkeypatch.setenv("LAB_PROFILE", "smoke")
    setup = _setup_for(bare_repo)
    folder = home / cloud.variables()["repo_dir"]
    nb00 = next(p for p in NOTEBOOKS if p.name.startswith("00_"))
    rest = ["".join(c["source"]) for c in load(nb00)["cells"]
            if c["cell_type"] == "code" and c.get("id") != cloud.SETUP_ID]
    out = _run([setup, PROBE, setup] + rest, cwd=home, kernel="fresh")
    assert "is installed" in out[0] and (folder / ".git").is_dir(), out[0]
    assert f"cwd {folder / 'notebooks'}" in out[1], out[1]
    assert f"labkit {folder / 'notebooks' / 'labkit' / '__init__.py'}" in out[1], out[1]
    assert str(python.parent.parent) in out[1], "labkit was not installed into the fresh environment"
    assert out[2] == "", f"the second run of the setup cell did something: {out[2]!r}"
    assert any("LAB_DATASET" in o or "synthetic" in o for o in out[3:]), "the settings cell printed nothing"


def test_does_nothing_elsewhere(tmp_path, monkeypatch):
    for name in ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LAB_WORKSHOP_DIR", str(tmp_path))
    setup = _setup_for(tmp_path / "no-such-repository.git")
    out = _run([setup, "import os; print(os.getcwd())"], cwd=tmp_path)
    assert out[0] == "" and out[1].strip() == str(tmp_path), out
    assert list(tmp_path.iterdir()) == [], "the setup cell wrote something outside Colab and Kaggle"
