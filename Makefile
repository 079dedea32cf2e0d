# Glutathione — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
STAMP := $(VENV)/.synced

.PHONY: run test install lint bench bench-gateway bench-rss clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# Install exactly what uv.lock pins (Python 3.11) whenever the lock file changes.
$(STAMP): uv.lock pyproject.toml $(UV)
	$(UV) sync --frozen --python 3.11
	@touch $(STAMP)

install: $(STAMP)

## make run — start the whole system in local mode with demo data.
run: install
	$(VENV)/bin/gluta up

## make test — every test: lint, layer rules, unit, integration, e2e and browser tests.
test: install lint
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: install
	$(VENV)/bin/python bench/run_all.py

clean:
	rm -rf $(VENV) .tools
