"""Benchmark harness: ``make bench`` (or ``python -m benchmarks [--suite NAME ...] [options]``).

It creates its own MariaDB database and uses Redis database 14 and a RabbitMQ queue of its own
(``environment.py``, ``settings.py``), serves the app with gunicorn and production settings on a free
loopback port through the bench's WSGI module (``wsgi.py``: the product's application plus a bare Django
view, the yardstick), drives each scenario of a suite (``scenarios.py``, ``settle.py``, ``race.py``,
``suites.py``, ``measure.py``) with a closed-loop asyncio load generator that spreads its connections evenly
over gunicorn's workers (``loadgen.py``, ``client.py``), samples CPU by process (``cpu.py``) and writes one
``benchmarks/results/bench-<UTC time>.json`` plus ``latest-bench.json`` (``report.py``) and a table
(``summary.py``). Every throughput suite measures the bare view in the same run, so its figures read as
ratios to it; lock, settle and race then check the database and Redis (``invariants.py`` and each
scenario's own checks). The notify suite measures the delivery latency of completion callbacks through a
Celery worker to a receiver of its own (``notify.py``).
"""
