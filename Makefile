# Two commands set up everything on a fresh machine: `make test` and `make demo`; `make stack` is a
# third, for people who want the Airflow UI. All create .venv on first use and reinstall when
# pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo stack stack-test ui-test bench matrix lint format clean reference

# The provider and the emulator (its own distribution, ./emulator) are both installed from the checkout.
$(STAMP): pyproject.toml emulator/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ./emulator -e ".[test,dev,stack]"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

DAG ?= domino_retraining_pipeline
demo: $(STAMP)
	$(PY) scripts/demo.py --dag $(DAG)

# docker-compose.yml's deployment as local processes (PostgreSQL, emulator, api-server, scheduler,
# dag-processor, triggerer); prints the UI address and login; Ctrl-C stops everything.
# `make stack EXECUTOR=celery`: the CeleryExecutor, with Redis and two Celery workers.
EXECUTOR ?= local
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CELERY_STAMP := $(VENV)/.installed-celery
stack: $(STAMP) $(if $(filter celery,$(EXECUTOR)),$(CELERY_STAMP))
	$(PY) scripts/stack.py --executor $(EXECUTOR) $(STACK_ARGS)

# The CeleryExecutor's parts: Debian's redis-server (apt, like PostgreSQL) and the `celery` extra.
$(CELERY_STAMP): $(STAMP)
	command -v redis-server >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server; }
	$(PY) -m pip install -q -e ".[celery]"
	touch $(CELERY_STAMP)

# Every test on the real Airflow services (`make test` runs only the short part of tests/stack), on the
# LocalExecutor and then on the CeleryExecutor.
stack-test: $(STAMP) $(CELERY_STAMP)
	DOMINO_STACK_TESTS=all DOMINO_STACK_EXECUTOR=local $(PY) -m pytest tests/stack $(PYTEST_ARGS)
	DOMINO_STACK_TESTS=all DOMINO_STACK_EXECUTOR=celery $(PY) -m pytest tests/stack $(PYTEST_ARGS)

# Debian's chromium + chromium-driver (apt) and selenium, then the browser tests against the stack.
ui-test: $(STAMP)
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver; }
	$(PY) -m pip install -q -e ".[ui]"
	DOMINO_UI_TESTS=1 $(PY) -m pytest tests/ui $(PYTEST_ARGS)

# The peer the bench compares against, in the version measured, installed into .venv with --no-deps so
# Airflow's own pins stay as they are (the Databricks provider's SQL connector, pandas and pyarrow are not
# needed by its trigger; everything its trigger imports, Airflow already brings). Not part of `make test`.
BENCH_PEERS := apache-airflow-providers-databricks==7.23.0
BENCH_STAMP := $(VENV)/.bench-peers

$(BENCH_STAMP): $(STAMP) Makefile
	$(PY) -m pip install -q --no-deps $(BENCH_PEERS)
	$(PY) -c "import airflow.providers.databricks.triggers.databricks"
	@# Every requirement but the peer's own skipped ones must still hold (Airflow's above all).
	! $(PY) -m pip check | grep -vE '^apache-airflow-providers-databricks |^No broken'
	touch $(BENCH_STAMP)

# `make bench` takes about 18 minutes on 2 cores; `make bench BENCH_ARGS="--quick"` passes options to
# bench/run.py (see bench/README.md).
bench: $(BENCH_STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

# Each supported Airflow minor release (newest patch from PyPI) in its own venv, .matrix/<minor>, running
# the e2e, trigger, decorator, OpenLineage and compat tests. Slow (minutes per release); not part of
# `make test`. `make matrix MATRIX_VERSIONS=3.2` runs one release; results go to .matrix/results.md.
MATRIX_VERSIONS ?= 3.1 3.2 3.3
matrix:
	PYTHON=$(PYTHON) scripts/matrix.sh $(MATRIX_VERSIONS)

# docs/reference.md from the code (tests/docs/test_reference.py fails when it is stale).
reference: $(STAMP)
	$(PY) scripts/gen_reference.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .matrix .pytest_cache .mypy_cache .ruff_cache *.egg-info
