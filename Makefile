# The interface to Outlast on one machine. `make` alone lists the targets (from their ## comments).
# Everything runs from .venv, which `make venv` creates with $(PY) (Python 3.11+) when absent.

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall only when pyproject.toml changed since the last install: `make venv` is then instant.
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv start scale-worker stop status logs db-migrate test lint bench screenshots soak clean

help: ## Show this help
	@echo "Usage: make TARGET [N=...]"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

venv: $(STAMP) ## Create .venv and install Outlast with its dev tools

$(STAMP): pyproject.toml
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "make: Python 3.11+ is needed and '$(PY)' is not (try: make PY=python3.11 ...)" >&2; \
		exit 1; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "make: '$(PY) -m venv' failed; on Debian install python3-venv" >&2; exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $@

start: venv ## Start Postgres (embedded unless DATABASE_URL), migrate, API, reaper, N workers (N=1)
	$(BIN)/outlast stack start --workers $(or $(N),1)

scale-worker: venv ## Run exactly N workers (make scale-worker N=5)
	@test -n "$(N)" || { echo "make: say how many workers: make scale-worker N=3" >&2; exit 2; }
	$(BIN)/outlast stack scale --workers $(N)

stop: venv ## Stop the workers, reaper, API and the embedded Postgres
	$(BIN)/outlast stack stop

status: venv ## Show each process, the database and tasks per state
	$(BIN)/outlast stack status

logs: venv ## Print the logs (NAME=worker-1 for one, FOLLOW=1 to follow)
	$(BIN)/outlast stack logs $(if $(FOLLOW),--follow) $(NAME)

db-migrate: venv ## Create or upgrade the database schema
	$(BIN)/outlast db migrate

lint: venv ## Ruff, mypy (strict) and the import-linter contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# pytest runs last, so its summary closes the output and its exit code is the target's.
test: lint ## Lint, type-check, check import contracts, then run the whole test suite
	$(BIN)/pytest -q

bench: venv ## Measure throughput and latency beside the raw-SQL ceiling
	@if [ -d bench ]; then $(BIN)/python -m bench; \
	else echo "make bench arrives with the performance issue"; fi

screenshots: venv ## Re-take the console's screenshots in docs/console/ (browser tests, chromium)
	OUTLAST_SCREENSHOTS=1 $(BIN)/pytest -q tests/browser

soak: venv ## The long randomized crash soak (2000 tasks)
	OUTLAST_SOAK_TASKS=2000 $(BIN)/pytest -q -m soak tests/chaos

clean: ## Remove caches and build output (keeps .venv and .data)
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .import_linter_cache *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
