# The two set-up commands: `make run` and `make test`. Everything else is a step they share.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test setup lint contracts unit down help

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

# Schema changes are compared with CONTRACTS_BASE: by default the upstream main when this clone has one
# (a branch under review), else the previous commit.
CONTRACTS_BASE ?= $(shell b=$$(git rev-parse -q --verify origin/main 2>/dev/null); \
	if [ -n "$$b" ] && [ "$$b" != "$$(git rev-parse HEAD)" ]; then echo "$$b"; \
	else git rev-parse -q --verify HEAD~1 2>/dev/null; fi)

contracts:
	$(VENV)/bin/observatory contracts check $(if $(CONTRACTS_BASE),--base $(CONTRACTS_BASE))

test: setup lint contracts
	$(VENV)/bin/pytest -p no:cacheprovider

unit:
	$(VENV)/bin/pytest -p no:cacheprovider tests/unit

down:
	-$(VENV)/bin/observatory down
	scripts/services.sh down
