# Narrated Studio: `make run` to start everything, `make test` to check everything.
# Every target is idempotent; stamp files keep repeated runs fast.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.requirements.stamp
BUN_DIR := .tools/bun
BUN_BIN := $(BUN_DIR)/node_modules/.bin
BUN_STAMP := .tools/.bun.stamp
CHROMIUM := /usr/bin/chromium
PG_TEST_URL ?= postgresql+psycopg2://postgres@127.0.0.1:5432/test

# Reflex must use the bun installed from the npm registry (it cannot download its own here).
export PATH := $(CURDIR)/$(BUN_BIN):$(PATH)
export REFLEX_USE_SYSTEM_BUN := 1
export REFLEX_TELEMETRY_ENABLED := false

.PHONY: venv bun chromium run lint test clean reconcile bench load backup restore

venv: $(VENV_STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV_STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -r requirements.txt
	touch $@

# Rebuilt when the requirements change, since Reflex pins the bun version it supports.
bun: $(BUN_STAMP)

$(BUN_STAMP): $(VENV_STAMP)
	@version="$$($(PY) -c 'from reflex.constants.installer import Bun; print(Bun.VERSION)')"; \
	if [ "$$($(BUN_BIN)/bun --version 2>/dev/null)" != "$$version" ]; then \
		echo "Installing bun $$version into $(BUN_DIR)"; \
		mkdir -p $(BUN_DIR) && \
		npm install --prefix $(BUN_DIR) --no-save --no-audit --no-fund "bun@$$version" && \
		$(BUN_BIN)/bun --version >/dev/null || exit 1; \
	fi
	@mkdir -p $(dir $@) && touch $@

chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
		$$sudo apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	fi

run: venv bun
	$(PY) -m saas_app.dev.run

# ruff (pyflakes, pycodestyle, bugbear, simplify, complexity, isort, pyupgrade) and mypy --strict,
# both configured in pyproject.toml; a finding fails the run before any test starts.
lint: venv
	$(VENV)/bin/ruff check saas_app tests bench load rxconfig.py
	$(VENV)/bin/mypy

# PostgreSQL is checked first so a missing server fails in seconds, not after the suite. The first pass
# uses it too: the scale-out test (tests/e2e/test_scale_out.py) runs its cluster on a database of its own.
test: lint venv bun chromium
	@$(PY) -m saas_app.dev.dbcheck '$(PG_TEST_URL)'
	PG_TEST_URL='$(PG_TEST_URL)' $(PY) -m pytest -q
	TEST_DATABASE_URL='$(PG_TEST_URL)' $(PY) -m pytest -q -m db

# Rebuild the Redis usage counters from the SQL ledger (after a Redis data loss).
reconcile: venv
	$(PY) -m saas_app.jobs.reconcile

# Take a database backup now; restore one with `make restore BACKUP=var/backups/<file>` (app stopped).
backup: venv
	$(PY) -m saas_app.jobs.backup_cli backup

restore: venv
	@test -n "$(BACKUP)" || { echo "usage: make restore BACKUP=var/backups/backup-<time>.sqlite3|.dump"; exit 2; }
	$(PY) -m saas_app.jobs.backup_cli restore '$(BACKUP)'

clean:
	rm -rf var/ .web/ .states/

# Benchmarks: print figures against a baseline measured in the same run (never assert timings).
bench: venv
	$(PY) -m bench.quota_admission
	$(PY) -m bench.render
	$(PY) -m bench.enqueue_latency

# The seed's load test, headless, against a running stack (`make run` in another shell): a pool of
# USERS signed-in creators made through the services on the stack's DATABASE_URL, then Locust for
# RUN_TIME; prints p50/p95/p99 and failures per endpoint (GET /api/health is the baseline) and
# keeps the CSV in var/load/. E.g. `make load USERS=200 RUN_TIME=60s`.
USERS ?= 100
SPAWN_RATE ?= 50
RUN_TIME ?= 60s
LOAD_HOST ?= http://localhost:3000
load: venv
	@mkdir -p var/load
	$(PY) -m load.tokens --users $(USERS) --out var/load/tokens.json
	LOAD_TOKENS=var/load/tokens.json $(VENV)/bin/locust -f load/locustfile.py --headless -u $(USERS) \
		-r $(SPAWN_RATE) -t $(RUN_TIME) --host $(LOAD_HOST) --csv var/load/$(USERS) --only-summary \
		--exit-code-on-error 0
	$(PY) -m load.report var/load/$(USERS)
