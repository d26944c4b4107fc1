# OrbitFlow: `make run` serves the app on SQLite with demo data; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run install test test-fast lint wheel bench clean

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
test:
	bash tools/system-deps.sh
	bash tools/ensure-mariadb.sh || echo "!!! MariaDB is not reachable: its tests will be skipped"
	$(MAKE) $(VENV)/.installed-test
	$(BIN)/ruff check src tests $(wildcard bench)
	PYTEST=$(BIN)/pytest bash tools/run-tests.sh $(PYTEST_ARGS)

test-fast: $(VENV)/.installed-test
	PYTEST=$(BIN)/pytest bash tools/run-tests.sh -m "not slow and not browser" --backend=sqlite $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests $(wildcard bench)

wheel: $(VENV)/.installed-test
	$(BIN)/python -m build --wheel --outdir dist

bench: $(VENV)/.installed-test
	$(BIN)/python bench/run.py

clean:
	rm -rf build dist var .pytest_cache src/*.egg-info
