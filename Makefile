# The README's two commands: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run doctor test lint types unit bench bench-fleet format clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "apns-bot needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: $(BIN)/python pyproject.toml
	$(PIP) install -e .
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(PIP) install -e '.[dev]'
	@touch $@

run: $(VENV)/.runtime
	$(BIN)/apns-bot run $(ARGS)

# The Quick start's check before the first `make run`: settings, Slack, Entra, Graph.
doctor: $(VENV)/.runtime
	$(BIN)/apns-bot doctor $(ARGS)

test: $(VENV)/.dev
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check bot tests bench
	$(BIN)/lint-imports

types: $(VENV)/.dev
	$(BIN)/mypy

unit: $(VENV)/.dev
	$(BIN)/pytest -q $(PYTEST_ARGS)

format: $(VENV)/.dev
	$(BIN)/ruff check --fix bot tests bench
	$(BIN)/ruff format bot tests bench

bench: $(VENV)/.dev
	$(BIN)/python -m bench $(ARGS)

bench-fleet: $(VENV)/.dev
	$(BIN)/python -m bench.bench_fleet $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
