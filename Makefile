# Precinct: `make test`, `make demo`, `make up`. Everything installs into .venv with uv.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(CURDIR)/$(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The interpreter that creates .venv, by absolute path: once .venv/bin leads PATH (below), a bare
# `python3` would be the venv's own, which has no uv.
SYS_PY := $(shell python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
UV     := $(shell command -v uv 2>/dev/null || echo "$(SYS_PY) -m uv")
ENVFILE := .devstack/airflow.env

# Airflow reads airflow.cfg from the repository root; plugins/ holds the `precinct` package.
export AIRFLOW_HOME := $(CURDIR)
export AIRFLOW_CONFIG := $(CURDIR)/airflow.cfg
export PYTHONPATH := $(CURDIR)/plugins:$(CURDIR)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Load the devstack connections (AIRFLOW_CONN_*) into a recipe's shell.
WITH_DEVSTACK := set -a && . ./$(ENVFILE) && set +a &&

.PHONY: help install system-deps devstack-up devstack-down db test lint demo up constraints benchmarks clean

help:
	@echo "make test        install, start devstack, run the whole test suite"
	@echo "make demo        install, start devstack, run every DAG once, print what each produced"
	@echo "make up          airflow standalone on http://127.0.0.1:8080 with devstack connections"
	@echo "make lint        ruff check (including the AIR rules)"
	@echo "make benchmarks  run every script in benchmarks/"
	@echo "make constraints re-resolve constraints.txt from requirements*.txt"

install: $(STAMP)

# A second `make install` is a no-op: the stamp is newer than every requirements file.
# --compile-bytecode writes every .pyc once, as a deployed image has them: without it, where
# PYTHONDONTWRITEBYTECODE is set (CI), every Airflow process compiles ~2,000 modules again.
$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@$(UV) --version >/dev/null 2>&1 \
		|| $(SYS_PY) -m pip install --quiet --disable-pip-version-check uv
	@test -x $(PY) || $(UV) venv --quiet --python 3.11 $(VENV)
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -r requirements-dev.txt -c constraints.txt
	@touch $(STAMP)

# PostgreSQL server binaries for devstack: Debian's package on CI (root); a hint elsewhere.
system-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing Debian's postgresql for devstack"; \
			(apt-get install -y -qq postgresql >/dev/null 2>&1 \
				|| (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null)); \
		else \
			echo "devstack needs PostgreSQL server binaries: apt-get install postgresql, or brew install postgresql"; exit 1; \
		fi; \
	fi

devstack-up: install system-deps
	$(PY) -m devstack up

devstack-down:
	@test -x $(PY) && $(PY) -m devstack down || true

db: devstack-up
	@mkdir -p .airflow
	@$(WITH_DEVSTACK) airflow db migrate >/dev/null

lint: install
	$(VENV)/bin/ruff check .

test: devstack-up
	@$(WITH_DEVSTACK) $(PY) -m pytest; status=$$?; $(PY) -m devstack down >/dev/null; exit $$status

demo: db
	@$(WITH_DEVSTACK) $(PY) -m devstack.demo; status=$$?; $(PY) -m devstack down >/dev/null; exit $$status

up: db
	@echo "Airflow UI: http://127.0.0.1:8080 (user admin; password in .airflow/simple_auth_manager_passwords.json.generated)"
	@$(WITH_DEVSTACK) airflow standalone

# Every benchmark runs even when one misses its targets (that is a figure, not a failure); the
# summary says which met them. Non-zero only if a script could not run.
benchmarks: devstack-up
	@$(WITH_DEVSTACK) $(PY) -m devstack.benchmarks

constraints:
	$(UV) pip compile requirements-dev.txt --python-version 3.11 --no-header --no-annotate --quiet -o constraints.txt
	@sed -i '1i # Frozen from a clean resolve of requirements-dev.txt (make constraints). Do not edit by hand.' constraints.txt

clean: devstack-down
	rm -rf .devstack .airflow
