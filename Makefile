# OrbitFlow: `make run` serves the app on SQLite with demo data; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run install test test-fast lint wheel bench clean lock image

run: $(VENV)/.installed var/orbitflow.sqlite
	$(BIN)/pserve development.ini

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

var/orbitflow.sqlite: | $(VENV)/.installed
	mkdir -p var
	$(BIN)/initializedb development.ini --demo

$(VENV)/.installed-test: $(VENV)/.installed setup.cfg
	$(BIN)/pip install --quiet -e '.[test,dev,mariadb]'
	touch $@

# Installs what the tests need (system packages, the test extras), then runs the whole
# suite on SQLite and MariaDB. No test collected, or every test skipped, counts as a
# failure (tools/run-tests.sh). PYTEST_ARGS="-k ..." narrows the run.
# One pytest-xdist worker per core (each test file on one worker, so a module's wheel or
# server is made once); coverage of lines and branches, child processes included, printed
# at the end and failing the run under the floor.
COVERAGE_FLOOR ?= 88
TEST_WORKERS ?= auto
TEST_OPTIONS ?= -n $(TEST_WORKERS) --dist loadfile --cov --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)
test:
	bash tools/system-deps.sh
	bash tools/ensure-mariadb.sh || echo "!!! MariaDB is not reachable: its tests will be skipped"
	$(MAKE) $(VENV)/.installed-test
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)
	COVERAGE_FILE=$(CURDIR)/.coverage PYTEST=$(BIN)/pytest bash tools/run-tests.sh $(TEST_OPTIONS) $(PYTEST_ARGS)

test-fast: $(VENV)/.installed-test
	PYTEST=$(BIN)/pytest bash tools/run-tests.sh -m "not slow and not browser" --backend=sqlite $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)

wheel: $(VENV)/.installed-test
	$(BIN)/python -m build --wheel --outdir dist

bench: $(VENV)/.installed-test
	$(BIN)/python bench/run.py

clean:
	rm -rf build dist var .pytest_cache src/*.egg-info .coverage .coverage.*

# requirements.lock: every package the image installs, pinned with hashes (from PyPI, not
# this machine's wheel folders). Refresh after changing install_requires in setup.cfg.
LOCK_ENV := env -u PIP_FIND_LINKS -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null
lock: $(VENV)/.installed-test
	$(LOCK_ENV) $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-find-links --no-emit-index-url --extra mariadb --extra redis \
		--output-file requirements.lock setup.cfg requirements-platform.in
	$(LOCK_ENV) $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-find-links --no-emit-index-url --output-file requirements-build.lock requirements-build.in

# The production image (Dockerfile); BASE_IMAGE=localhost/debian:bookworm-slim for a local base.
BASE_IMAGE ?= debian:bookworm-slim
image:
	BUILDAH_FORMAT=docker podman build --build-arg BASE_IMAGE=$(BASE_IMAGE) -t orbitflow:latest .
