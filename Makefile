# Two commands matter: `make demo` and `make test`. Both bootstrap .venv by themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python

.DEFAULT_GOAL := help
.PHONY: help demo test lint typecheck unit bench clean

help:
	@echo "make demo   run the demo on a new SQLite file (python -m practiceid demo)"
	@echo "make test   ruff, ruff format --check, mypy --strict src/, pytest with branch coverage"
	@echo "make bench  benchmarks (installs the bench-only yardsticks)"

# The stamp files depend on pyproject.toml, so a change of dependencies reinstalls.
$(BIN)/activate:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "practiceid needs Python >= 3.11; set PYTHON=python3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: $(BIN)/activate pyproject.toml
	$(PY) -m pip install --quiet -e '.[sql]'
	@touch $@

$(VENV)/.installed-test: $(BIN)/activate pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

$(VENV)/.installed-bench: $(BIN)/activate pyproject.toml
	$(PY) -m pip install --quiet -e '.[bench]'
	@touch $@

demo: $(VENV)/.installed-run
	$(PY) -m practiceid demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy --strict src/

unit: $(VENV)/.installed-test
	$(PY) -m pytest --cov --cov-report=term-missing

test: lint typecheck unit

bench: $(VENV)/.installed-bench
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis .coverage build dist
