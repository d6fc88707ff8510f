# Developer shortcuts; they run what CI runs (.ci/run). The scripts do the setup:
# `dev` installs requirements-dev.txt into .venv (only when it changed).
# Pytest arguments: make test ARGS="-k referral -x".
VENV := .venv
PY   := $(VENV)/bin/python

.PHONY: run test dev lint format typecheck security bench bench-http

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
	$(VENV)/bin/mypy app

security: dev
	$(VENV)/bin/ruff check --select S app
	@if [ -x $(VENV)/bin/pip-audit ]; then \
		$(VENV)/bin/pip-audit; \
	else \
		echo "pip-audit is not installed (add it to requirements-dev.txt); dependency audit skipped"; \
	fi

bench: dev
	$(PY) bench/case_read.py

bench-http: dev
	$(PY) bench/http_read.py
