# Shortcuts for the commands the README documents. `make help` lists them.
PYTHON ?= .venv/bin/python
# Where the quick benchmarks write their tables and runs: benchmarks/results/ keeps the full ones.
QUICK ?= outputs/benchmarks/quick

.PHONY: help install test lint bench

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

install:  ## a .venv with gan1d (editable), its test and dev extras (pytest, ruff, pre-commit)
	python3 -m venv .venv
	$(PYTHON) -m pip install -q torch==2.13.0
	$(PYTHON) -m pip install -q -e '.[test,dev]'

test:  ## the default test suite (pytest -m slow runs the long ones)
	$(PYTHON) -m pytest

lint:  ## ruff, as pre-commit runs it
	$(PYTHON) -m ruff check src tests benchmarks conf

bench:  ## the quick forms of the throughput and quality benchmarks: gan1d's speed against a plain loop, W1/sd over 2 seeds
	mkdir -p $(QUICK)
	$(PYTHON) benchmarks/throughput.py --repeats 3 --steps 1000 --startup-repeats 1 --json $(QUICK)/throughput.json
	$(PYTHON) benchmarks/quality.py --seeds 2 --presets default --targets "N(4, 1.25)" --out $(QUICK) \
		--runs $(QUICK)/quality
