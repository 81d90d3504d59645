# The two commands of the workshop:
#   make lab    set up .venv if needed and open JupyterLab on notebooks/ (127.0.0.1, with a token)
#   make test   set up .venv if needed and run every test (unit tests and every notebook)
# Helpers:
#   make data    download and verify CIFAR-10, and generate the offline stand-in (instructors: run it ahead)
#   make check   print the settings, the device and whether the data is there
#   make images  redraw every figure in images/ from the scripts in tools/figures/

PYTHON ?= python3
PORT ?= 8888
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-requirements

.PHONY: lab test data check images help

help:
	@sed -n '1,10p' Makefile

# Re-install whenever requirements.txt changes.
$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

# Bound to 127.0.0.1 with Jupyter's login token on: from another machine, use an SSH tunnel.
# (--allow-root only when run as root, as in containers; Jupyter refuses root otherwise.)
lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) \
		--ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks \
		$(if $(filter 0,$(shell id -u)),--allow-root)

test: $(STAMP)
	$(BIN)/python -m pytest

data: $(STAMP)
	cd notebooks && ../$(BIN)/python -m labkit download
	cd notebooks && ../$(BIN)/python -m labkit prepare-offline

check: $(STAMP)
	cd notebooks && ../$(BIN)/python -m labkit check

images: $(STAMP)
	@for script in tools/figures/*.py; do echo "$$script"; $(BIN)/python "$$script" || exit 1; done
