# Two commands: `make run` (the whole platform on the embedded defaults) and
# `make test`. Both create .venv and install the pinned dependencies first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint format typecheck schema screenshots ci bench faults migrate clean help

help:
	@echo "make run    - run web, workers, beat and flower on the embedded defaults (restarts what exits; Ctrl-C stops all)"
	@echo "make test   - run the test suite"
	@echo "make lint | format | typecheck | schema | screenshots | bench | faults | ci | clean"

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

# The dashboard's main pages, in Chromium (apt-get install chromium), into docs/screenshots/.
screenshots: $(STAMP)
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest tests/browser/screenshots.py -q -p no:cacheprovider

migrate: $(STAMP)
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Outages under load (bench/faults): its own section of bench/report.md.
faults: $(STAMP)
	$(BIN)/python -m bench.faults

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
