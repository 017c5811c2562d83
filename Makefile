# Two commands a newcomer needs: `make run` (the default simulation and its report) and
# `make test` (lint and tests). Each creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench app lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)  ## the default scenario, one year, report in runs/default/
	$(BIN)/llm-market run --out runs/default --force

test: $(STAMP)  ## lint, then the test suite
	$(BIN)/ruff check .
	$(BIN)/pytest

app: $(STAMP)  ## the browser app on http://localhost:8765 (no network needed; Ctrl-C stops it)
	$(BIN)/llm-market app

bench: $(STAMP)  ## speed numbers (printed, never asserted)
	$(BIN)/python benchmarks/bench_model.py
	$(BIN)/python benchmarks/bench_orderbook.py
	$(BIN)/python benchmarks/bench_app.py
	$(BIN)/python benchmarks/bench_sweep.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache .hypothesis
