# Quickstart targets. Each installs limitlab into $(VENV) (a fresh venv the first time) and then runs.
#   make run    the default pipeline (params/default.yaml, embedded mnist5k data) end to end
#   make test   the whole test suite
VENV ?= .venv
PYTHON ?= python3
PARAMS ?= params/default.yaml
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install run test lint dry-run bench

$(BIN)/limitlab: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/limitlab

run: install
	$(BIN)/snakemake --profile workflow/profiles/local --config params=$(PARAMS) -- all

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/snakemake --lint

dry-run: install
	for f in params/*.yaml params/paper/*.yaml params/beyond/*.yaml; do $(BIN)/snakemake -n --quiet rules --config params=$$f -- all || exit 1; done

bench: install
	$(BIN)/python bench/train_throughput.py
