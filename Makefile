# The two commands of the workshop:
#   make lab    set up .venv if needed and open JupyterLab on notebooks/ (127.0.0.1, with a token)
#   make test   set up .venv if needed and run every test (unit tests and every notebook)
#   make unit   the edit loop: unit and fault tests only, nothing slow (about a minute)
#   make test-full  every cell of every notebook, and the tests of other paths (Colab, offline, GPU rehearsal)
# Helpers:
#   make data         generate (or repair) the offline stand-in, download and verify CIFAR-10
#   make check        print the settings, the device and whether the data is there
#   make images       redraw every figure in images/ from the scripts in tools/figures/
#   make timings      time every notebook in a fresh kernel (quick and full): benchmarks/results/notebook-times.md
#   make live         write the presenter's edition of every notebook (core path only) to notebooks/live/
#   make pace         the live, self-paced and deep-dive minutes of every notebook, computed from them
# Wider checks:
#   make test-oldest  the unit tests and every notebook on the oldest torch/torchvision we support
#   make test-ui      the notebooks run in JupyterLab in headless Chromium, checked as learners see them
#   make gpu-wheels   download, here, what `make gpu-check` needs on an offline GPU machine
#   make gpu-check    every GPU path on a GPU machine (PYTHON=python3 to use that machine's Python)
#   make lint         ruff over labkit, tests, tools and benchmarks
# Rooms and releases:
#   make offline-kit  on a connected machine: wheels/wheelhouse for the room's platform, and the data
#                     (ROOM_PLATFORM=linux-x86_64|linux-aarch64|windows-x86_64|macos-arm64, ROOM_PYTHON=3.12,
#                     ROOM_TORCH=cpu); once wheels/wheelhouse holds wheels, make installs from it, never the index
#   make resolve-check  pip's resolver, per advertised Python and platform, against the public index
#   make publish-check  fails while labs/variables/variables.json holds a placeholder address

PYTHON ?= python3
PORT ?= 8888
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The version floor that `make test-oldest` proves (keep in step with requirements.txt).
OLDEST_TORCH := torch==2.5.0 torchvision==0.20.0
OLDEST_VENV := .venv-oldest
GPU_WHEELS_PYTHON ?= 3.12
GPU_CHECK_ARGS ?=
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
# The oldest and newest Python whose pinned install resolves (tools/resolve_check.py checks them all).
PYTHON_MIN := 3.11
PYTHON_MAX := 3.14
# An offline room's packages (make offline-kit). When this folder holds wheels, every install of the
# stamp below uses it alone: --no-index, so no index is contacted. WHEELHOUSE= turns it off.
WHEELHOUSE ?= wheels/wheelhouse
PIP_SOURCES = $(if $(WHEELHOUSE),$(if $(wildcard $(WHEELHOUSE)/*.whl),--no-index --find-links $(WHEELHOUSE)))
ROOM_PLATFORM ?=
ROOM_PYTHON ?=
ROOM_TORCH ?=

.PHONY: offline-kit resolve-check publish-check
.PHONY: lab test test-full unit data check images timings live pace test-oldest test-ui gpu-wheels gpu-check lint help

help:
	@sed -n '1,/^$$/p' Makefile

# Install (again) whenever requirements.txt, constraints.txt or pyproject.toml changes.
# constraints.txt pins the versions of the last green CI run; labkit is installed in editable mode.
# The Python checked is .venv's when .venv exists (it may have been made by hand), else $(PYTHON);
# the error names a new-enough Python found on PATH.
$(STAMP): requirements.txt constraints.txt pyproject.toml tools/jupyterlab/overrides.json
	@if test -x $(BIN)/python; then $(BIN)/python tools/check_python.py $(PYTHON_MIN) $(PYTHON_MAX) venv; \
	else $(PYTHON) tools/check_python.py $(PYTHON_MIN) $(PYTHON_MAX) PYTHON; fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(if $(PIP_SOURCES),@echo "Installing from $(WHEELHOUSE) only (no index is contacted)",$(BIN)/python -m pip install --quiet --upgrade pip)
	$(BIN)/python -m pip install --quiet $(PIP_SOURCES) -r requirements.txt -c constraints.txt -e .
	@mkdir -p $(dir $(LAB_OVERRIDES)) && cp tools/jupyterlab/overrides.json $(LAB_OVERRIDES)
	@touch $(STAMP)

# Bound to 127.0.0.1 with Jupyter's login token on: from another machine, use an SSH tunnel.
# A port in use is an error (port_retries=0), never a server silently moved to another port.
# (--allow-root only when run as root, as in containers; Jupyter refuses root otherwise.)
lab: $(STAMP)
	@$(BIN)/python tools/port_free.py $(PORT)
	$(BIN)/jupyter lab --config=tools/jupyterlab/jupyter_server_config.py \
		--ServerApp.port=$(PORT) --ServerApp.root_dir=. $(if $(filter 0,$(shell id -u)),--allow-root)

# The README's test command: the unit, fault and lab tests, and every notebook's live edition (its core
# path alone). `make test-full` adds every cell of every notebook, a second Run All of each live edition
# in the same kernel, the tests of other paths (Colab and Kaggle, an offline room, the GPU rehearsal,
# a class on one server) and the slow checks marked full. `.ci/run` runs both.
test: $(STAMP)
	$(BIN)/python -m pytest tests notebooks/live -m "not paths and not full" --no-rerun

test-full: $(STAMP)
	$(BIN)/python -m pytest tests -m "paths or full"
	$(BIN)/python -m pytest notebooks

# The edit loop: the unit and fault tests, no notebook, nothing marked slow (about a minute).
unit: $(STAMP)
	$(BIN)/python -m pytest tests -q -m "not slow" -p no:randomly -o addopts="-p no:cacheprovider" --no-rerun

# The stand-in first: it needs no network. Without network the download then fails with its reason,
# and make data still ends well, saying that only the stand-in is ready.
data: $(STAMP)
	$(BIN)/python -m labkit prepare-offline
	@$(BIN)/python -m labkit download || echo "make data: CIFAR-10 could not be downloaded (the reason is above); the offline stand-in is ready: use LAB_DATASET=synthetic, or run make data on a connected machine and copy its data/ folder here."

check: $(STAMP)
	$(BIN)/python -m labkit check

images: $(STAMP)
	@for script in tools/figures/*.py; do echo "$$script"; $(BIN)/python "$$script" || exit 1; done

timings: $(STAMP)
	$(BIN)/python tools/time_notebooks.py --profile quick,full

live: $(STAMP)
	$(BIN)/python tools/pace.py live

pace: $(STAMP)
	$(BIN)/python tools/pace.py

# Its own environment: the floor of torch and torchvision, everything else as requirements.txt
# allows. Then the unit tests and every notebook once (smoke profile, the stand-in).
test-oldest:
	@test -x $(OLDEST_VENV)/bin/python || $(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST_VENV)/bin/python -m pip install --quiet -r requirements.txt $(OLDEST_TORCH) -e .
	$(OLDEST_VENV)/bin/python -c "import torch, torchvision; print('test-oldest: torch', torch.__version__, 'torchvision', torchvision.__version__)"
	$(OLDEST_VENV)/bin/python -m pytest --no-rerun -m "not paths"

test-ui: $(STAMP)
	bash tools/install_ui_deps.sh $(BIN)/python
	$(BIN)/python -m pytest tests_ui -q

# On a connected machine, for a room without network: the wheelhouse of the room's platform (this
# machine's by default) with setuptools for labkit's editable build, then CIFAR-10 and the stand-in.
offline-kit: $(STAMP)
	$(BIN)/python tools/wheelhouse.py --dest $(WHEELHOUSE) $(if $(ROOM_PLATFORM),--platform $(ROOM_PLATFORM)) \
		$(if $(ROOM_PYTHON),--python-version $(ROOM_PYTHON)) $(if $(ROOM_TORCH),--torch $(ROOM_TORCH))
	$(BIN)/python -m labkit download
	$(BIN)/python -m labkit prepare-offline
	@echo "offline-kit: copy this folder (with data/ and $(WHEELHOUSE)/) to each machine of the room; make lab there installs from $(WHEELHOUSE) without network."

# pip's resolver for every advertised Python on Linux x86_64 and aarch64, Windows and macOS (needs the index).
RESOLVE_JOBS ?= 8
resolve-check: $(STAMP)
	$(BIN)/python tools/resolve_check.py --jobs $(RESOLVE_JOBS)

# Before publishing the labs: the repository address must be a real one, not the placeholder.
publish-check:
	$(PYTHON) tools/publish_check.py

gpu-wheels:
	$(PYTHON) tools/gpu_check.py download-wheels --python-version $(GPU_WHEELS_PYTHON) \
		--dest wheels/py$(subst .,,$(GPU_WHEELS_PYTHON))

gpu-check:
	$(PYTHON) tools/gpu_check.py run $(GPU_CHECK_ARGS)

lint: $(STAMP)
	@$(BIN)/python -m ruff --version >/dev/null 2>&1 || $(BIN)/python -m pip install --quiet ruff==0.15.0
	$(BIN)/python -m ruff check notebooks/labkit notebooks/train_ddp.py tests tests_ui tools benchmarks conftest.py
