# Glutathione — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv

.PHONY: run test e2e-production install install-runtime lint clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# Install exactly what uv.lock pins (Python 3.11). `make run` leaves the development tools out, as a
# production install would (less memory per process), and compiles the bytecode at install as pip does
# (uv does not by default): every process then loads .pyc files instead of compiling ~1,000 modules
# from source at each start, which is slower and leaves about 5 MB more memory behind in a service.
# `make test` adds the development tools. uv makes either step a no-op when nothing changed.
install-runtime: $(UV)
	$(UV) sync --frozen --no-dev --compile-bytecode --python 3.11

install: $(UV)
	$(UV) sync --frozen --python 3.11

## make run — start the whole system in local mode with demo data.
run: install-runtime
	$(VENV)/bin/gluta up

## make test — every test: lint, layer rules, unit, integration, e2e and browser tests (e2e on the local and,
## when GLUTA_TEST_MYSQL_URL and GLUTA_TEST_REDIS_URL are set as .ci/run does, the production stack).
test: install lint
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

## make e2e-production — the production stack end to end: MariaDB with a database and a user per service,
## Redis, the Kafka protocol (Tansu), two instances of gateway, product and order, started by `gluta up
## --profile production` on free ports and removed afterwards. `make test` runs it too (both stacks).
e2e-production: install
	GLUTA_E2E_STACKS=production \
	GLUTA_TEST_MYSQL_URL="$${GLUTA_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}" \
	GLUTA_TEST_REDIS_URL="$${GLUTA_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}" \
	$(VENV)/bin/python -m pytest tests/e2e -k production $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .tools
