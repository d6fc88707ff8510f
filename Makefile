# Developer shortcuts; they run what CI runs (.ci/run). The scripts do the setup:
# `dev` installs requirements-dev.lock into .venv (only when it changed).
# Pytest arguments: make test ARGS="-k referral -x".
VENV := .venv
PY   := $(VENV)/bin/python

.PHONY: run test dev lint format typecheck security sbom locks bench bench-http

run:
	./run.sh

test:
	./test.sh $(ARGS)

dev:
	@RUTA_SETUP_ONLY=1 ./test.sh

lint: dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: dev
	$(VENV)/bin/mypy app tools

# The dependency audit asks PyPI and the npm registry (it needs the network); it fails on
# a known vulnerability with a fix, an expired exception, or advisories it could not get.
security: dev
	$(VENV)/bin/ruff check --select S app tools
	$(PY) -m tools.dependency_audit

sbom: dev
	$(PY) -m tools.sbom --output sbom.cdx.json

# After changing a pin in requirements*.txt: rewrite the hash locks from PyPI.
locks: dev
	$(PY) -m tools.lock_hashes

bench: dev
	$(PY) bench/case_read.py

bench-http: dev
	$(PY) bench/http_read.py
