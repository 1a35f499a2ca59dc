# Two commands for a fresh machine: `make demo` and `make test`.
# Both create .venv, install torch 2.13.0 (the CPU build on disk) when no torch is present,
# install the project with its dev extras, then run.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.glamcast-installed
# The mirror's browser packages (web/package-lock.json), served by `glamcast serve` from here.
NODE_STAMP := web/node_modules/.glamcast-installed
PYTEST_ARGS ?=

.PHONY: demo test test-prod unit lint install system-deps bench clean

demo: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/glamcast demo $(DEMO_ARGS)

test: $(STAMP) system-deps $(NODE_STAMP) lint
	$(PY) -m pytest $(PYTEST_ARGS)

# The prod-local profile end to end (Spark standalone, S3 server, PostgreSQL, Redis) alone; it
# is part of `make test` too (docs/runbook.md, "prod-local").
test-prod: $(STAMP) system-deps $(NODE_STAMP) lint
	$(PY) -m pytest -m prod tests/integration/prod $(PYTEST_ARGS)

# The service-free tier (tests/unit): no broker, Spark session or server; for the edit-test loop.
unit: $(STAMP) lint
	$(PY) -m pytest tests/unit -q $(PYTEST_ARGS)

# The floor plan (docs/architecture.md) as import-linter contracts in pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/lint-imports

# Chromium (the dashboard's browser test) and the Compose CLI (validating infra/): installed
# when missing, checked in a second when present.
system-deps:
	bash infra/system-deps.sh

install: $(STAMP) $(NODE_STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel

$(STAMP): pyproject.toml | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# npm ci: exactly the lockfile's versions, from the npm registry (Node.js and npm from the OS).
$(NODE_STAMP): web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

bench: $(STAMP) $(NODE_STAMP)
	$(PY) -m pip install --quiet -e ".[dev,bench]"  # the recommender's peers (cornac, implicit)
	for script in bench/*.py; do $(PY) $$script || exit 1; done

clean:
	-$(VENV)/bin/glamcast down --purge
	rm -rf $(VENV) build *.egg-info
