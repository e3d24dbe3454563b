# The two commands a newcomer needs: `make run` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# axe-core (npm) for the browser tests; the browser itself is Debian's Chromium, never downloaded.
AXE := tests/browser/node_modules/axe-core/axe.min.js
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

.PHONY: run test lint install clean evaluate bench bench-pipeline bench-dashboard fuzz load \
	bench-scale bench-shared

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependency list changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make run: migrations, demo data on first start, API + worker + scheduler on http://127.0.0.1:5000
run: install
	$(BIN)/kindred run

# The version pinned in tests/browser/package-lock.json. Without npm the browser tests skip.
$(AXE): tests/browser/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/browser --no-audit --no-fund && touch $@; \
	else \
		echo "note: npm not found: axe-core not installed, the browser tests (tests/browser) skip"; \
	fi

## make test: the whole suite (PostgreSQL and Redis tests run when DATABASE_URL/REDIS_URL are set;
## browser tests when /usr/bin/chromium and npm are there)
test: install $(AXE)
	$(BIN)/ruff check service workers tests migrations bench
	$(BIN)/python -m pytest

## make evaluate: the matcher against baselines on ../shared/data (JSON + charts in var/evaluation)
evaluate: install
	$(BIN)/kindred evaluate --dataset meetup_portland --split test \
		--param learn_weights='"implicit"' --peer-param activity_weight=2.0
	$(BIN)/kindred evaluate --dataset meetup_montana --split test
	$(BIN)/kindred evaluate --dataset nyc_service_volunteer --split test

## make bench: matcher speed and memory at 100k listings x 100k members (figures and chart in
## docs/benchmarks/; about 25 minutes on 2 cores). QUICK=1 runs 5,000 x 5,000 instead.
bench: install
ifdef QUICK
	$(BIN)/python -m bench.run_all --listings 5000 --members 5000 --out var/bench/quick
else
	$(BIN)/python -m bench.run_all
endif

## make bench-pipeline: outbox relay, request-to-suggestions latency at 20 requests/s, fan-out of
## one listing to 100,000 members (JSON in var/bench/results/, latency chart in docs/benchmarks/)
bench-pipeline: install
	$(BIN)/python -m bench.outbox_relay --json var/bench/results/outbox_relay.json
	$(BIN)/python -m bench.match_latency --json var/bench/results/match_latency.json
	$(BIN)/python -m bench.listing_fanout_db --json var/bench/results/listing_fanout_db.json

## make bench-dashboard: server time of the coordinator overview, and the follow-up job's scan,
## at 100,000 members and 10,000 listings on SQLite (DASHBOARD_DB=postgresql://... runs the
## overview on that empty PostgreSQL database instead)
bench-dashboard: install
	$(BIN)/python -m bench.dashboard_overview --json var/bench/results/dashboard_overview.json \
		$(if $(DASHBOARD_DB),--database-url $(DASHBOARD_DB))
	$(BIN)/python -m bench.follow_ups --json var/bench/results/follow_ups.json

## make bench-scale: 1,000,000 members and 100,000 listings as 10 region shards, each fitted on
## its own, against all of it fitted as one model (JSON in var/bench/results/scale_regions.json,
## chart in docs/benchmarks/scale_regions.png; about 15 minutes on 2 cores, 5 GB of memory)
bench-scale: install
	$(BIN)/python -m bench.scale_regions
	$(BIN)/python -m bench.shared_model --members 100000 --workers 4 \
		--json var/bench/results/shared_model.json

## (part of bench-scale) four worker processes after one change to 100,000 members: each fitting
## its own model against one fitting and the others loading it (docs/benchmarks/shared_model.png)
bench-shared: install
	$(BIN)/python -m bench.shared_model --members 100000 --workers 4 \
		--json var/bench/results/shared_model.json

## make load: 10,000 match requests and 1,000 listings from concurrent clients against
## gunicorn -w 2, two workers and the scheduler on PostgreSQL and Redis, a few minutes (JSON in
## var/bench/results/load.json, chart in docs/benchmarks/load.png). Creates the database
## kindred_load on the local PostgreSQL if absent and migrates a fresh schema in it; flushes
## Redis db 14. LOAD_DB=postgresql://... and LOAD_REDIS=redis://... name others.
load: install
	@if [ -z "$(LOAD_DB)" ] && \
		! psql -h 127.0.0.1 -U postgres -lqt | cut -d '|' -f 1 | grep -qw kindred_load; then \
		createdb -h 127.0.0.1 -U postgres kindred_load; \
	fi
	$(BIN)/python -m bench.load --json var/bench/results/load.json \
		--database-url $(or $(LOAD_DB),postgresql://postgres@127.0.0.1:5432/kindred_load) \
		$(if $(LOAD_REDIS),--redis-url $(LOAD_REDIS))

## make fuzz: schemathesis over every API operation and role, 1,000 examples each (make test
## runs 10); FUZZ_EXAMPLES=n for another count. SQLite and the embedded Redis, about 10 minutes
fuzz: install
	env -u DATABASE_URL -u REDIS_URL KINDRED_FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),1000) \
		$(BIN)/python -m pytest -p no:cacheprovider tests/fuzz/test_openapi_fuzz.py

lint: install
	$(BIN)/ruff check service workers tests migrations bench
	$(BIN)/ruff format --check service workers tests

clean:
	rm -rf $(VENV) var .pytest_cache
