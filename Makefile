# loopml developer entry points. `make demo` and `make test` work on a fresh machine with
# Python 3.11 and make: the virtual environment is created on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EVIDENTLY_VENV := .venv-evidently
EVIDENTLY_REQS := tests/monitoring/evidently-requirements.txt
EVIDENTLY_STAMP := $(EVIDENTLY_VENV)/.installed
MLFLOW_VENV := .venv-mlflow
MLFLOW_REQS := tests/server/mlflow/mlflow-requirements.txt
MLFLOW_STAMP := $(MLFLOW_VENV)/.installed
MLFLOW2_VENV := .venv-mlflow2
MLFLOW2_REQS := tests/server/mlflow/mlflow2-requirements.txt
MLFLOW2_STAMP := $(MLFLOW2_VENV)/.installed
MLFLOW_SERVER_VENV := .venv-mlflow-server
MLFLOW_SERVER_REQS := tests/server/mlflow/mlflow-server-requirements.txt
MLFLOW_SERVER_STAMP := $(MLFLOW_SERVER_VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install demo test test-fast lint format bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Evidently (pandas 2) in its own environment, for the drift agreement tests.
$(EVIDENTLY_STAMP): $(EVIDENTLY_REQS)
	test -x $(EVIDENTLY_VENV)/bin/python || $(PYTHON) -m venv $(EVIDENTLY_VENV)
	$(EVIDENTLY_VENV)/bin/python -m pip install --quiet -r $(EVIDENTLY_REQS)
	touch $(EVIDENTLY_STAMP)

# The stock MLflow client in its own environment, for the MLflow compatibility tests.
$(MLFLOW_STAMP): $(MLFLOW_REQS)
	test -x $(MLFLOW_VENV)/bin/python || $(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet -r $(MLFLOW_REQS)
	touch $(MLFLOW_STAMP)

# The newest MLflow 2.x client, for the same client tests as the 3.x one.
$(MLFLOW2_STAMP): $(MLFLOW2_REQS)
	test -x $(MLFLOW2_VENV)/bin/python || $(PYTHON) -m venv $(MLFLOW2_VENV)
	$(MLFLOW2_VENV)/bin/python -m pip install --quiet -r $(MLFLOW2_REQS)
	touch $(MLFLOW2_STAMP)

# The full MLflow package: `mlflow server` for the comparison tests, and MLflow stores
# made by MLflow itself for the `loopml import mlflow` tests.
$(MLFLOW_SERVER_STAMP): $(MLFLOW_SERVER_REQS)
	test -x $(MLFLOW_SERVER_VENV)/bin/python || $(PYTHON) -m venv $(MLFLOW_SERVER_VENV)
	$(MLFLOW_SERVER_VENV)/bin/python -m pip install --quiet -r $(MLFLOW_SERVER_REQS)
	touch $(MLFLOW_SERVER_STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP) $(EVIDENTLY_STAMP) $(MLFLOW_STAMP) $(MLFLOW2_STAMP) $(MLFLOW_SERVER_STAMP)
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -n 2 -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src tests bench examples
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix src tests bench examples
	$(VENV)/bin/ruff format src tests bench examples

bench: $(STAMP)
	$(PY) bench/tracking.py
	$(PY) bench/artifacts.py

clean:
	rm -rf $(VENV) $(EVIDENTLY_VENV) $(MLFLOW_VENV) $(MLFLOW2_VENV) $(MLFLOW_SERVER_VENV) build dist .pytest_cache .mypy_cache .ruff_cache demo-workspace
