# The two set-up commands: `make run` and `make test`. Everything else is a step they share.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test setup lint unit check-bazel down help

help:
	@echo "make run   - set up everything, then run the pipeline locally (observatory up)"
	@echo "make test  - set up everything, then run lint, types and the whole test suite"

setup:
	@scripts/setup.sh

run: setup
	$(VENV)/bin/observatory up

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: setup lint
	$(VENV)/bin/pytest -p no:cacheprovider

unit:
	$(VENV)/bin/pytest -p no:cacheprovider tests/unit

down:
	-$(VENV)/bin/observatory down
	scripts/services.sh down
