# snapcal: two commands do everything on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean bench serve stop

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m cli.demo

# ruff, then mypy (strict for snapcal_core; flows, tasks, cli and deployments non-strict): configured in pyproject.toml
lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/mypy --strict snapcal_core && $(BIN)/mypy flows tasks cli deployments

test: $(STAMP)
	$(MAKE) lint
	$(BIN)/python -m pytest

serve: $(STAMP)
	$(BIN)/python -m deployments.ops start

stop:
	$(BIN)/python -m deployments.ops stop

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_load.py

clean:
	rm -rf $(VENV) var .pytest_cache
