"""The bench's Django settings: ``config.settings.production`` as it ships, with a Celery queue of its own.

The broker is the RabbitMQ of this machine, shared with whoever else uses it, and its default ``celery``
queue can hold their messages (tests and dev servers enqueue there with no worker running). The bench's
worker must not consume those against the bench database, nor anybody's worker the bench's notify tasks:
so the bench's processes (gunicorn and the worker alike) send to and consume ``groupbuy_bench``, as the
bench has a database and a Redis database of its own. Nothing else differs from production.
"""

import os

from config.settings.production import *  # noqa: F403

# environment.BenchEnvironment.queue (BENCH_QUEUE): groupbuy_bench unless the harness names another.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("GBM_BENCH_QUEUE") or "groupbuy_bench"
