# groupbuy — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PORT ?= 8000
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help install run test lint format migrate demo messages bench load clean

help:
	@echo "make run    - install, migrate, load demo data, serve on 127.0.0.1:$(PORT) (embedded services)"
	@echo "make test   - run the test suite (real services when DATABASE_URL/REDIS_URL/BROKER_URL are set)"
	@echo "make lint   - ruff check + format check + import contracts (.importlinter) + mypy (mypy.ini)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.version_info[:2] == (3, 11) or print("warning: groupbuy targets Python 3.11, found", sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# mysqlclient compiles against libmariadb-dev; install it when DATABASE_URL needs it or the headers exist,
# so the embedded `make run` still works on a machine without them.
$(STAMP): $(BIN)/python requirements/base.txt requirements/local.txt requirements/lint.txt requirements/mysql.txt
	$(BIN)/pip install --quiet -r requirements/local.txt
	@case "$${DATABASE_URL:-}" in \
	  mysql*|mariadb*) echo "DATABASE_URL is MariaDB: installing mysqlclient"; $(BIN)/pip install --quiet -r requirements/mysql.txt ;; \
	  *) if pkg-config --exists libmariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null; then \
	       $(BIN)/pip install --quiet -r requirements/mysql.txt || echo "warning: mysqlclient not installed (only needed for MariaDB)"; \
	     else echo "note: libmariadb-dev not found, skipping mysqlclient (only needed for MariaDB)"; fi ;; \
	esac
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(MANAGE) migrate --noinput

demo: migrate
	$(MANAGE) load_demo

run: demo
	@echo ""
	@echo "  groupbuy is starting on http://127.0.0.1:$(PORT)/"
	@echo "    shop        http://127.0.0.1:$(PORT)/          (shoppers xiaofuge, liergou, demo1..demo9 / demo)"
	@echo "    admin       http://127.0.0.1:$(PORT)/admin/    (admin / admin)"
	@echo "    API docs    http://127.0.0.1:$(PORT)/api/docs/"
	@echo "    health      http://127.0.0.1:$(PORT)/readyz    metrics http://127.0.0.1:$(PORT)/metrics"
	@echo "    background  Celery beat's schedule runs in this process: expired teams fail and refund (30 s),"
	@echo "                unpaid seats are released (30 s), failed callbacks are retried (15 s), unpaid mall"
	@echo "                orders close (60 s), expired nonces are purged (5 min); EMBEDDED_BEAT_SPEEDUP=10 runs"
	@echo "                them 10x as often. Goods 9890006 opens teams that expire after 2 minutes."
	@echo ""
	$(MANAGE) run_embedded 127.0.0.1:$(PORT)

# pytest exits 5 when it collected no test: that is a failure here, never a silent pass.
test: install
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: no tests were collected"; exit 1; fi; exit $$rc

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

messages: install
	$(MANAGE) makemessages -l zh_Hans -l en --ignore=.venv --ignore=var --no-obsolete
	$(MANAGE) compilemessages --ignore=.venv

# gunicorn + production settings on a free loopback port, serving benchmarks/wsgi.py (the app plus a bare Django view,
# the yardstick of every ratio), against MariaDB (its own database groupbuy_bench), Redis DB 14 and RabbitMQ (its own
# queue groupbuy_bench; BENCH_DATABASE_URL, BENCH_REDIS_URL and BENCH_QUEUE name others) on this machine; suites trial,
# lock, settle, race, gateway (the mall's payment notify) and notify (with a Celery worker), then trial, lock and settle
# again with gunicorn on cores of its own (benchmarks/placement.py), ~5 min; one JSON to benchmarks/results/ and a
# table; then the durable commits/s a Python client gets.
# e.g. BENCH_ARGS="--suite lock --duration 30".
BENCH_ARGS ?=
bench: install
	@$(BIN)/python -c 'import MySQLdb' 2>/dev/null || $(BIN)/pip install --quiet -r requirements/mysql.txt
	$(BIN)/python -m benchmarks $(BENCH_ARGS)
	@# Durable commits/s a Python client gets from 1, 8 and 32 connections (docs/capacity.md), ~15 s.
	@for threads in 1 8 32; do $(BIN)/python -m benchmarks.db_ceiling --threads $$threads --seconds 5 | grep -E '"(threads|commits_per_second)"'; done

# The whole purchase flow (trial, lock, team_progress, settle, refund) under locust, headless on loopback, at
# 4, 8 and 16 users x 20 s, then every invariant (no oversell, no double settlement, no lost notify); ~75 s.
# Its own database groupbuy_load, Redis DB 13, Celery queue and bus groupbuy_load; JSON to benchmarks/results/.
# e.g. LOAD_ARGS="--stages 8,16,32 --stage-seconds 30".
LOAD_ARGS ?=
load: install
	@$(BIN)/python -c 'import MySQLdb' 2>/dev/null || $(BIN)/pip install --quiet -r requirements/mysql.txt
	$(BIN)/python -m benchmarks.load $(LOAD_ARGS)

clean:
	rm -rf $(VENV) var

# Fault suite: a private redis-server and RabbitMQ node (killed and restarted), the shared MariaDB's own database
# groupbuy_faults (its connections KILLed), a Celery worker SIGKILLed mid-callback; invariants after each. ~2-3 min.
FAULTS_ARGS ?=
.PHONY: faults
faults: install
	@$(BIN)/python -c 'import MySQLdb' 2>/dev/null || $(BIN)/pip install --quiet -r requirements/mysql.txt
	$(BIN)/python -m benchmarks.faults $(FAULTS_ARGS)

# Security suite: black-box attacks by one channel's secret (an attacker channel s03 created in setup) or one shopper
# account on gunicorn + production settings on a free loopback port; its own database groupbuy_security, Redis DB 12
# (flushed at start), Celery queue and bus groupbuy_security. Table, JSON to benchmarks/results/, exit 1 on any
# breach; the last line is "N passed, M failed". ~45 s. e.g. SECURITY_ARGS="--only isolation" or "--list".
SECURITY_ARGS ?=
.PHONY: security
security: install
	@$(BIN)/python -c 'import MySQLdb' 2>/dev/null || $(BIN)/pip install --quiet -r requirements/mysql.txt
	$(BIN)/python -m benchmarks.security $(SECURITY_ARGS)
