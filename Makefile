# The two set-up commands of the README: `make demo` and `make test`.
# Each creates .venv when it is missing and installs the project into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,postgres,chat]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/vip-sidecar demo $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(TEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/intake.py
	$(BIN)/python benchmarks/sweep.py
	$(BIN)/python benchmarks/triage.py
	$(BIN)/python benchmarks/serve_memory.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
