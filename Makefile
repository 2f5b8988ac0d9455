# Two commands set up everything on a fresh machine: `make test` and `make demo`.
# Both create .venv on first use and reinstall when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo bench lint format clean matrix

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,dev]"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

DAG ?= domino_retraining_pipeline
demo: $(STAMP)
	$(PY) scripts/demo.py --dag $(DAG)

bench: $(STAMP)
	$(PY) bench/run.py

# Each supported Airflow minor release (newest patch from PyPI) in its own venv, .matrix/<minor>, running
# the e2e, trigger, decorator, OpenLineage and compat tests. Slow (minutes per release); not part of
# `make test`. `make matrix MATRIX_VERSIONS=3.2` runs one release; results go to .matrix/results.md.
MATRIX_VERSIONS ?= 3.1 3.2 3.3
matrix:
	PYTHON=$(PYTHON) scripts/matrix.sh $(MATRIX_VERSIONS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .matrix .pytest_cache .mypy_cache .ruff_cache *.egg-info
