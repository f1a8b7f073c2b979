"""Benchmark harness: ``make bench`` (or ``python -m benchmarks [--suite NAME ...] [options]``).

It creates its own MariaDB database and uses Redis database 14 and a RabbitMQ queue of its own
(``environment.py``, ``settings.py``), serves the app with gunicorn and production settings on a free
loopback port (``server.py``), drives each scenario of a suite (``scenarios.py``, ``suites.py``) with a
closed-loop asyncio load generator (``loadgen.py``, ``client.py``) and writes
``benchmarks/results/<suite>-<UTC time>.json`` plus ``latest-<suite>.json`` (``report.py``). The throughput
suites (trial, lock) measure the trivial ``/healthz`` in the same run, so their figures read as ratios; the
lock suite then checks the database and Redis for oversell (``invariants.py``). The notify suite measures
the delivery latency of completion callbacks through a Celery worker to a receiver of its own (``notify.py``).
"""
