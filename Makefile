# The README's commands. Every target bootstraps what it needs on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export UV_PYTHON ?= 3.11
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help bootstrap uv sync postgres chromium wrk run audit test test-fast test-browser lint format schema schema-check vendor vendor-check screenshots bench bench-full bench-1m bench-asof-1m corpus corpus-record clean

help:
	@echo "make run           start the embedded system with demo data (GraphiQL on :8000)"
	@echo "make audit ARGS=.. the audit CLI (ARGS=--help); finds a running make run via ./data"
	@echo "make test          set everything up and run the whole test suite"
	@echo "make test-fast     unit, acceptance and service tests that need no server (one process)"
	@echo "make lint          ruff + mypy"
	@echo "make schema        regenerate contracts-schema/generated and the gateway's SDL"
	@echo "make schema-check  fail if the generated contract files or the SDL are out of date"
	@echo "make corpus        rewrite the frozen event corpus's expected read models and OCDS"
	@echo "make corpus-record NAME=.. add a recording to the corpus (after a new event version)"
	@echo "make test-browser  the console and GraphiQL in headless Chromium (installs chromium)"
	@echo "make screenshots   regenerate the console screenshots in docs/screenshots"
	@echo "make vendor        fetch the pinned GraphiQL/React/axe-core files (vendor-check: verify)"
	@echo "make bench         quick benchmarks (bench-full for the full run)"
	@echo "make bench-1m      only the 1M-events SQLite rebuild figure (~15 min)"
	@echo "make bench-asof-1m as-of vs present latency at 10k, 100k and 1M events (~60 min; ~7 GB of memory, /dev/shm; ASOF_KEEP=DIR keeps the read models there for the next run)"

uv:
	@command -v uv >/dev/null 2>&1 || [ -x "$(HOME)/.local/bin/uv" ] || $(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv

sync: uv
	@$(eval UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv))
	@$(UV) sync --frozen --quiet

# Debian's PostgreSQL server, only when initdb is missing (we run as root on build machines).
postgres:
	@if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing Debian's postgresql server"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

# Debian's Chromium for the browser tests (Playwright drives it; no browser download).
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "installing Debian's chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

bootstrap: sync postgres

# The synced environment's python itself, not `uv run`: a terminal's Ctrl-C goes to the whole
# foreground process group and uv forwards the SIGINT it got to its child as well, so the run
# saw every Ctrl-C twice and took the first for "a second interrupt" (every part killed).
run: bootstrap
	@.venv/bin/python -m bootstrap

# `make audit ARGS="verify"`: the audit CLI without uv on PATH; it finds a running `make run`
# through the endpoints.json in its data directory (GT_DATA_DIR, default ./data).
audit: sync
	@$(UV) run --frozen audit $(ARGS)

# Two pytest-xdist workers by default, a test module at a time (tests/conftest.py): the suite
# took 4 min on two free cores and 10 m 43 s beside five other busy sessions (load 11), where
# one process took 11-12 min beside two busy loops. Three workers took a larger share of the
# cores beside other busy processes in one contended pair (suite18), but a fresh-clone run with
# three beside two busy loops lost a test's connection to nats-server's 2 s authentication
# timeout (a starved worker): kept at two until a quiet A/B of 2/3/4 beside two busy loops says
# otherwise. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
test: bootstrap chromium
	@$(UV) run --frozen pytest $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadscope)

test-browser: sync chromium
	@$(UV) run --frozen pytest tests/browser

# The README's console screenshots, taken by the browser tests' own fixtures.
screenshots: sync chromium
	@GT_SCREENSHOTS=docs/screenshots $(UV) run --frozen pytest -q -p no:randomly tests/browser/test_console.py

vendor:
	@$(UV) run --frozen python -m gateway.console.vendor

vendor-check: sync
	@$(UV) run --frozen python -m gateway.console.vendor --check

# No server, no database process: the unit tests, the acceptance suites on their in-memory
# backends (the JetStream half of each acceptance suite is marked `jetstream`) and the service
# layer (commands, read models and GraphQL on the in-memory store and SQLite; its conftest
# fails a test that starts a nats-server or PostgreSQL process).
test-fast: sync
	@$(UV) run --frozen pytest -m "not jetstream and not postgres and not docker" tests/unit tests/acceptance tests/service

lint: sync
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy

format: sync
	@$(UV) run --frozen ruff format .
	@$(UV) run --frozen ruff check --fix .

schema: sync
	@$(UV) run --frozen python -m contracts_schema.generate
	@$(UV) run --frozen python -m gateway.sdl

schema-check: sync
	@$(UV) run --frozen python -m contracts_schema.generate --check
	@$(UV) run --frozen python -m gateway.sdl --check

# The frozen event corpus (tests/corpus): its recordings are never rewritten; the expected
# outputs are, deliberately, after a change of meaning (review the diff).
corpus: sync
	@$(UV) run --frozen python -m tests.corpus.corpus

corpus-record: sync
	@test -n "$(NAME)" || { echo "usage: make corpus-record NAME=<yyyy-mm-what>"; exit 2; }
	@$(UV) run --frozen python -m tests.corpus.corpus --record $(NAME)

# wrk (Debian's package) drives the HTTP benchmarks from a separate process.
wrk:
	@if ! command -v wrk >/dev/null 2>&1; then \
		echo "installing Debian's wrk"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	fi

bench: bootstrap wrk
	@$(UV) run --frozen python -m bench --quick

bench-full: bootstrap wrk
	@$(UV) run --frozen python -m bench --full

bench-1m: bootstrap
	@$(UV) run --frozen python -m bench.rebuild_1m

# The read models are built in /dev/shm when it has room (~2.5 GB for 1M; BENCH_ASOF_DIR
# chooses another directory), the building process holding ~4 GB beside it.
bench-asof-1m: sync wrk
	@$(UV) run --frozen python -m bench.asof_1m $(if $(ASOF_KEEP),--keep $(ASOF_KEEP))

clean:
	rm -rf .venv data .pytest_cache .mypy_cache .ruff_cache
