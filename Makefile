# The two commands of the workshop:
#   make lab    set up .venv if needed and open JupyterLab on notebooks/ (127.0.0.1, with a token)
#   make test   set up .venv if needed and run every test (unit tests and every notebook)
# Helpers:
#   make data    download and verify CIFAR-10, and generate the offline stand-in (instructors: run it ahead)
#   make check   print the settings, the device and whether the data is there

PYTHON ?= python3
PORT ?= 8888
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-requirements

.PHONY: lab test data check help

help:
	@sed -n '1,9p' Makefile

# Re-install whenever requirements.txt changes.
$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) \
		--ServerApp.root_dir=notebooks

test: $(STAMP)
	$(BIN)/python -m pytest

data: $(STAMP)
	cd notebooks && ../$(BIN)/python -m labkit download
	cd notebooks && ../$(BIN)/python -m labkit prepare-offline

check: $(STAMP)
	cd notebooks && ../$(BIN)/python -m labkit check
