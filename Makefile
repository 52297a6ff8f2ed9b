# Sleeveless: `make demo` runs the whole daily pipeline on a synthetic firm; `make test` runs the tests.
# Both create the virtual environment first, from the committed lock file (uv.lock), with uv.

PYTHON ?= python3
UV_VERSION ?= 0.13.8
VENV := .venv
UV := .tools/bin/uv
HOME_DIR ?= data
HOUSEHOLDS ?= 200
SEED ?= 7
AS_OF ?= 2026-11-20
PYTEST_ARGS ?=

export SLEEVELESS_HOME ?= $(CURDIR)/$(HOME_DIR)

.PHONY: install install-pip demo test dev lock bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra dev --python $(PYTHON) --compile-bytecode
	touch $@

## install: the virtual environment from uv.lock (about a minute on a fresh machine)
install: $(VENV)/.installed

## install-pip: the pip fallback (same pins, exported from uv.lock to requirements.lock)
install-pip:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements.lock
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $(VENV)/.installed

## demo: synthetic firm -> full daily pipeline -> order files and reports under $(HOME_DIR)/
demo: install
	$(VENV)/bin/sleeveless demo --home $(SLEEVELESS_HOME) --households $(HOUSEHOLDS) --seed $(SEED) --as-of $(AS_OF)

## test: unit tests and the end-to-end pipeline test
test: install
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

## dev: the Dagster UI on http://127.0.0.1:3000 over the same data directory
dev: install
	mkdir -p $(SLEEVELESS_HOME)/dagster_home
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH DAGSTER_HOME=$(SLEEVELESS_HOME)/dagster_home \
		$(VENV)/bin/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

## lock: refresh uv.lock and requirements.lock after changing pyproject.toml
lock: $(UV)
	$(UV) lock --python $(PYTHON)
	$(UV) export --frozen --extra dev --no-hashes --no-emit-project -o requirements.lock > /dev/null

clean:
	rm -rf $(HOME_DIR) .pytest_cache transforms/target transforms/logs
