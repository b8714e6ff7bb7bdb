# Trending Now — every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_VERSION ?= 3.11
VENV ?= .venv
BIN := $(VENV)/bin
DBT_DIR := dbt_project
DBT_ARGS := --project-dir $(DBT_DIR) --profiles-dir $(DBT_DIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export DO_NOT_TRACK := 1
export RUNTIME__DLTHUB_TELEMETRY := false
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export SCARF_ANALYTICS := false

.PHONY: help setup lock demo test test-fast lint docs bench airflow manifest clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

setup: ## build .venv from the pinned lock (requirements.txt) with uv
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	uv venv --quiet --allow-existing --python $(PYTHON_VERSION) $(VENV)
	VIRTUAL_ENV=$(VENV) uv pip sync --quiet --compile-bytecode requirements.txt
	VIRTUAL_ENV=$(VENV) uv pip install --quiet --no-deps -e .
	@echo "ready: $(VENV) ($$($(BIN)/python --version))"

lock: ## re-compile requirements.txt from requirements.in (Airflow and its core pins: MWAA's, see lock-mwaa)
	uv pip compile --quiet requirements.in -o requirements.txt --python-version $(PYTHON_VERSION) --constraint infrastructure/modules/mwaa/essential-constraints.txt

# Amazon MWAA: its Airflow and Python (infrastructure/modules/mwaa/essential-constraints.txt says which).
# The image is Amazon Linux 2023 (glibc 2.34): wheels up to manylinux_2_34 install there.
MWAA_PYTHON_VERSION ?= 3.12
MWAA_PYTHON_PLATFORM ?= x86_64-manylinux_2_34
MWAA_VENV ?= /tmp/mwaa-venv
MWAA_CONSTRAINTS := infrastructure/modules/mwaa/essential-constraints.txt
.PHONY: lock-mwaa mwaa-wheelhouse mwaa-check

# Run after `make lock`: the development lock constrains this one, so every package both locks hold
# (Airflow, Cosmos, dbt-core, the adapters...) has one version (tests/infrastructure/test_mwaa_requirements.py).
lock-mwaa: ## re-compile requirements-mwaa.txt (runtime only, for MWAA's Airflow and Python; after `make lock`)
	uv pip compile --quiet requirements-mwaa.in -o requirements-mwaa.txt --python-version $(MWAA_PYTHON_VERSION) --python-platform $(MWAA_PYTHON_PLATFORM) --constraint $(MWAA_CONSTRAINTS) --constraint requirements.txt

mwaa-wheelhouse: ## build/mwaa/: plugins.zip (MWAA-platform wheels of requirements-mwaa.txt) + the requirements.txt that installs from it alone
	python3 scripts/mwaa_wheelhouse.py build

# No Python 3.12 needed: the MWAA-platform wheels are resolved by pip for CPython 3.12 (a dry run); the
# same file installs --no-index on the local Python from wheels of the same pins, and the DAG parses there.
mwaa-check: mwaa-wheelhouse ## install --no-index from the wheelhouse as the MWAA image does; parse the DAG, import every module (not in `make test`)
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	python3 scripts/mwaa_wheelhouse.py check --venv $(MWAA_VENV)
	$(MWAA_VENV)/bin/python scripts/mwaa_check.py

manifest: ## dbt parse -> dbt_project/target/manifest.json (Cosmos renders the DAG from it)
	$(BIN)/dbt parse $(DBT_ARGS) --quiet

demo: ## the whole daily job offline: recorded samples, replay server, DuckDB
	$(BIN)/trending-now demo

# One pytest-xdist worker more than the cores: a third of the suite's time is waiting (subprocesses starting,
# local servers, PostgreSQL, Airflow's polling), which a spare worker fills.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
test: manifest ## every test, in parallel (pytest-xdist): unit, fakes, DuckDB + PostgreSQL, dbt, Airflow
	$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadscope --durations=15

test-fast: ## unit tests only (no dbt/Airflow end-to-end)
	$(BIN)/pytest -q -m "not slow and not postgres"

lint: ## ruff, import layers (import-linter), sqlfluff, workflows (GitHub's schema, zizmor offline, the deploy rules)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff format --check $$($(BIN)/python scripts/mwaa_bundle.py --packages)
	$(BIN)/sqlfluff lint $(DBT_DIR)/models --nocolor
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/zizmor --offline --min-severity medium .github/workflows
	$(BIN)/python scripts/check_deploy_workflows.py

docs: manifest ## the dbt docs site (static index.html in dbt_project/target/)
	TRENDING_NOW_DUCKDB_PATH=$(CURDIR)/data/warehouse/trending_now.duckdb $(BIN)/dbt docs generate $(DBT_ARGS) --static
	@echo "open $(DBT_DIR)/target/static_index.html"

bench: ## every benchmark in bench/; tables go to bench/results/
	@mkdir -p bench/results
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

.PHONY: rehearse
rehearse: ## the whole CD (scripts/deploy.py) against a local twin of AWS: moto, PostgreSQL, Airflow 3 (docs/deploy.md)
	$(BIN)/python scripts/rehearse.py

airflow: manifest ## a local Airflow (standalone) with the DAG, at http://127.0.0.1:8080
	AIRFLOW_HOME=$(CURDIR)/.airflow AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags $(BIN)/airflow standalone

clean: ## remove the local warehouse, dbt target and caches (not the venv)
	rm -rf data/warehouse $(DBT_DIR)/target $(DBT_DIR)/logs .pytest_cache .ruff_cache
