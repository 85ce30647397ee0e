# The README's two commands: `make run` and `make test`. Each creates (or reuses) the
# virtual environment in .venv and installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The exact dependency set, pinned with hashes (README "How to update the lock"): the
# runtime lock for the image (Dockerfile), the dev lock (runtime + local + dev extras) for
# .venv. Both come from pyproject.toml through `make lock`, never by hand.
RUNTIME_LOCK := requirements/runtime.lock
DEV_LOCK := requirements/dev.lock
# Reinstall only when the dependencies change: pyproject.toml or the lock.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(DEV_LOCK) | cksum | cut -d' ' -f1)
# Copy the docs' browser assets again only when their lock or their list changes.
DOCS_STAMP := docs-assets/node_modules/.copied-$(shell cat docs-assets/package-lock.json api/docs/assets.py | cksum | cut -d' ' -f1)

.PHONY: install docs-assets browser lock run test test-fast lint typecheck pytest pytest-unit pytest-unit-doors pytest-unit-rest pytest-workflows pytest-e2e pytest-journey pytest-waitlist pytest-servers clean

# Only what the lock names, each file checked against its hash; then the project itself
# without dependencies, built by the locked setuptools (no isolated build that would
# fetch the newest one); `pip check` fails if pyproject.toml needs what the lock lacks.
$(STAMP): pyproject.toml $(DEV_LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP) $(DOCS_STAMP)

## make docs-assets: the browser assets of /docs, /redoc and /graphql (Swagger UI, ReDoc,
## GraphiQL), from npm at the versions of docs-assets/package.json, each file checked
## against its hash in package-lock.json (npm ci; no install scripts run), then copied
## into api/docs/static (api/docs/assets.py names the files), which the app serves.
## To update one: `npm install --prefix docs-assets --ignore-scripts --save-exact
## swagger-ui-dist@X.Y.Z`, then `make docs-assets` and the browser test.
$(DOCS_STAMP): docs-assets/package-lock.json api/docs/assets.py | $(STAMP)
	npm ci --prefix docs-assets --ignore-scripts --no-audit --no-fund --loglevel=error
	$(BIN)/python -m api.docs.assets
	@rm -f docs-assets/node_modules/.copied-*
	@touch $@

docs-assets: $(STAMP)
	@rm -f docs-assets/node_modules/.copied-*
	@$(MAKE) --no-print-directory $(DOCS_STAMP)

## make browser: Debian's Chromium, for the tests that open the docs in a browser
## (tests/e2e/test_docs_in_a_browser.py); installed only where it is missing (as root).
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; }

## make lock: pyproject.toml resolved again into both locks, for Linux and CPython 3.11
## like the image. Pins stay where pyproject.toml still allows them; what it adds gets
## the newest release. LOCK_ARGS=--upgrade moves every pin to the newest release,
## LOCK_ARGS="--upgrade-package fastapi" one package. The runtime lock is constrained by
## the dev lock, so the two never pin a package differently. UV=/path/to/uv when .venv
## cannot be installed (a lock whose pins are gone from the index).
UV ?= $(BIN)/uv
LOCK_ARGS ?=
LOCK_OPTIONS := --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock"
BUILD_REQUIRES := $(PYTHON) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\\n')"
lock: $(if $(filter $(BIN)/uv,$(UV)),install)
	@mkdir -p requirements
	$(BUILD_REQUIRES) | $(UV) pip compile $(LOCK_OPTIONS) $(LOCK_ARGS) --extra dev pyproject.toml - -o $(DEV_LOCK)
	$(BUILD_REQUIRES) | $(UV) pip compile $(LOCK_OPTIONS) pyproject.toml - -c $(DEV_LOCK) -o $(RUNTIME_LOCK)

## make run: the whole service on the local stack with sample data (Ctrl-C stops it)
run: install
	$(BIN)/appointment-service run

## make test: lint, then the type check and every test (unit, workflow, deploy,
## integration, e2e, the journey and the waitlist end to end) in five jobs side by side:
## each job starts its own servers on free ports, so they never meet, and their output is
## shown job by job
test: install lint
	@$(MAKE) --no-print-directory -j5 --output-sync=target typecheck pytest-e2e pytest-journey pytest-waitlist pytest-servers

## make test-fast: lint, then the type check, the unit tests and the workflow tests side
## by side (no servers but Temporal's time-skipping test server): under a minute
test-fast: install lint
	@$(MAKE) --no-print-directory -j4 typecheck pytest-unit-doors pytest-unit-rest pytest-workflows

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

## make pytest: every test in one process, one after the other
pytest: install browser
	$(BIN)/pytest

pytest-e2e: install browser
	$(BIN)/pytest -q -p no:cacheprovider tests/e2e

## the appointment's journey end to end, on a stack of its own whose journey runs in
## minutes: mostly waiting for the clock, so it runs beside the other jobs
pytest-journey: install browser
	$(BIN)/pytest -q -p no:cacheprovider tests/e2e_journey

## the waitlist end to end, on a stack of its own whose offers expire in a minute: about
## a minute and a quarter, a third of one core, mostly waiting for an offer to run out; a
## job of its own beside the others (after the journey's, whose length follows the clock
## from 3 to 8 minutes, it could become the longest job)
pytest-waitlist: install
	$(BIN)/pytest -q -p no:cacheprovider tests/e2e_waitlist

pytest-servers: install
	$(BIN)/pytest -q -p no:cacheprovider tests/unit tests/workflows tests/deploy tests/integration

pytest-unit: install
	$(BIN)/pytest -q -p no:cacheprovider tests/unit

# The unit tests in two halves for test-fast: the doors' (which load the whole app) and
# the rest, so that neither is the one job that keeps the others waiting.
UNIT_DOORS := tests/unit/api tests/unit/application tests/unit/fhir tests/unit/graphql
pytest-unit-doors: install
	$(BIN)/pytest -q -p no:cacheprovider $(UNIT_DOORS)

pytest-unit-rest: install
	$(BIN)/pytest -q -p no:cacheprovider tests/unit $(addprefix --ignore=,$(UNIT_DOORS))

pytest-workflows: install
	$(BIN)/pytest -q -p no:cacheprovider tests/workflows

clean:
	rm -rf .local .pytest_cache .mypy_cache .ruff_cache

## make bench: the benchmark on the local stack (make bench ARGS=--quick for a smoke run)
.PHONY: bench
bench: install
	$(BIN)/python -m bench $(ARGS)
