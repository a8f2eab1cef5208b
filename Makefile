# Two commands: `make run` (the whole platform on the embedded defaults) and
# `make test`. Both create .venv and install the pinned dependencies first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint format typecheck schema ci bench migrate clean help

help:
	@echo "make run    - run web, workers, beat and flower on the embedded defaults (restarts what exits; Ctrl-C stops all)"
	@echo "make test   - run the test suite"
	@echo "make lint | format | typecheck | schema | bench | ci | clean"

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python bin/run

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	DJANGO_DEBUG=1 $(BIN)/mypy .

# The OpenAPI schema, committed so API changes show in review; CI checks it.
schema: $(STAMP)
	DJANGO_DEBUG=1 $(BIN)/python manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml

migrate: $(STAMP)
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate

bench: $(STAMP)
	$(BIN)/python bench/run.py

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
