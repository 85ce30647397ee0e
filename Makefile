# The README's two commands: `make run` and `make test`. Each creates (or reuses) the
# virtual environment in .venv and installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Reinstall only when the dependencies change.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test test-fast lint typecheck pytest pytest-unit pytest-workflows pytest-e2e pytest-servers clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

## make run: the whole service on the local stack with sample data (Ctrl-C stops it)
run: install
	$(BIN)/appointment-service run

## make test: lint, then the type check and every test (unit, workflow, deploy,
## integration, e2e) in three jobs side by side: each job starts its own servers on free
## ports, so they never meet, and their output is shown job by job
test: install lint
	@$(MAKE) --no-print-directory -j3 --output-sync=target typecheck pytest-e2e pytest-servers

## make test-fast: lint, then the type check, the unit tests and the workflow tests side
## by side (no servers but Temporal's time-skipping test server): under a minute
test-fast: install lint
	@$(MAKE) --no-print-directory -j3 typecheck pytest-unit pytest-workflows

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

## make pytest: every test in one process, one after the other
pytest: install
	$(BIN)/pytest

pytest-e2e: install
	$(BIN)/pytest -q -p no:cacheprovider tests/e2e

pytest-servers: install
	$(BIN)/pytest -q -p no:cacheprovider tests/unit tests/workflows tests/deploy tests/integration

pytest-unit: install
	$(BIN)/pytest -q -p no:cacheprovider tests/unit

pytest-workflows: install
	$(BIN)/pytest -q -p no:cacheprovider tests/workflows

clean:
	rm -rf .local .pytest_cache .mypy_cache .ruff_cache

## make bench: the benchmark on the local stack (make bench ARGS=--quick for a smoke run)
.PHONY: bench
bench: install
	$(BIN)/python -m bench $(ARGS)
