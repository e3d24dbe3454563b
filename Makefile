# The two commands a newcomer needs: `make run` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependency list changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make run: migrations, demo data on first start, API + worker + scheduler on http://127.0.0.1:5000
run: install
	$(BIN)/kindred run

## make test: the whole suite (PostgreSQL and Redis tests run when DATABASE_URL/REDIS_URL are set)
test: install
	$(BIN)/ruff check service workers tests migrations
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check service workers tests migrations
	$(BIN)/ruff format --check service workers tests

clean:
	rm -rf $(VENV) var .pytest_cache
