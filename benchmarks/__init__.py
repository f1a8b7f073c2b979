"""Benchmark harness: ``make bench`` (or ``python -m benchmarks [SUITE] [options]``).

It creates its own MariaDB database and uses Redis database 14 (``environment.py``), serves the app with
gunicorn and production settings on a free loopback port (``server.py``), drives each scenario of a suite
(``scenarios.py``, ``suites.py``) with a closed-loop asyncio load generator (``loadgen.py``, ``client.py``)
and writes ``benchmarks/results/<suite>-<UTC time>.json`` plus ``latest-<suite>.json`` (``report.py``).
Every suite measures the trivial ``/healthz`` in the same run, so its figures read as ratios.
"""
