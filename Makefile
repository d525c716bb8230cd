# Monday: every set-up step lives here so a README reader and CI do the same thing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench bench-quick docs docs-check install services clean

$(STAMP): requirements.lock pyproject.toml
	@PYTHON=$(PYTHON) bash scripts/bootstrap.sh
	@touch $(STAMP)

install: $(STAMP)

## The main job on the embedded default (SQLite, no server needed).
demo: $(STAMP)
	@bash examples/demo.sh

## Lint + strict types + generated docs in step + the test suite (PostgreSQL started if down).
test: $(STAMP) services lint typecheck docs-check pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy src

pytest: $(STAMP)
	$(BIN)/pytest

services:
	@bash scripts/ensure-services.sh

docs: $(STAMP)
	$(BIN)/python -m mondaytest.spec.docs --write

docs-check: $(STAMP)
	$(BIN)/python -m mondaytest.spec.docs --check

## Benchmarks: peers in their own environments under bench/.envs (never in the project lock).
bench: $(STAMP)
	@for b in bench/*_bench.py; do echo "== $$b"; $(BIN)/python $$b || exit 3; done

bench-quick: $(STAMP)
	@for b in bench/*_bench.py; do echo "== $$b"; $(BIN)/python $$b --quick || exit 3; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache build dist
