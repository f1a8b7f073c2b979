"""Enqueue a Celery task from a hot path: ``task.delay`` through a producer each thread keeps bound.

A settle that completes a team enqueues its callback's delivery after the commit, and ``delay`` cost ~0.5 ms
of CPU there, most of it Celery's per-call plumbing rather than the message (docs/benchmarks.md, issue 16): it
borrows a producer from the pool and gives it back (re-binding channel and exchange every time), copies and
binds the queue to learn that kombu already declared it on this connection, and formats ``argsrepr`` with
``saferepr``. ``task_enqueue`` takes the same ``apply_async`` path with Celery's documented options instead:

- ``producer``: one per thread, on its own connection from ``app.connection_for_write()`` (a producer and
  its connection are not thread-safe, and gunicorn's gthread workers serve requests from several threads);
- ``declare``: the task's queue as Celery's router picks it, bound to that producer's channel after its first
  publish (``delay`` binds a fresh copy on every call). kombu still declares it on the first publish of
  every connection (after a reconnect too: its declaration cache is per connection), as ``delay`` does;
- ``argsrepr`` / ``kwargsrepr``: plain ``repr`` of the arguments (ids), not ``saferepr``.

The message (protocol 2, the serializer), the publish retry policy (``task_publish_retry``: a stale
connection is reconnected and the message sent again) and the errors raised when the broker is down stay
Celery's. Eager mode (the embedded demo) runs the task through ``delay``, as before.
"""

from __future__ import annotations

import threading
from typing import Any

from celery import Celery, Task
from kombu import Producer, Queue

from apps.common.generations import Generation

# Every thread's publisher is replaced on its next use after a fork (the child would share the parent's socket)
# or a change of a CELERY_* setting (tests).
_generation = Generation(depends_on=lambda setting: setting.startswith("CELERY_"))
_local = threading.local()


class _Publisher:
    """A thread's producer, and each task's queue bound to its channel once a publish has declared it."""

    def __init__(self, app: Celery) -> None:
        self.generation = _generation.value
        self.producer = Producer(app.connection_for_write(), auto_declare=False)
        self.queues: dict[str, Queue] = {}

    def close(self) -> None:
        """Drop the connection without talking to the broker (it may be the reason we are here)."""
        connection = self.producer.connection
        if connection is not None:
            connection.collect()


def task_enqueue(task: Task, *args: Any) -> None:
    """``task.delay(*args)`` for a task taking positional ids; raises as ``delay`` does when the broker is down."""
    app = task.app
    if app.conf.task_always_eager:
        task.delay(*args)
        return
    publisher: _Publisher | None = getattr(_local, "publisher", None)
    if publisher is None or publisher.generation != _generation.value:
        publisher = _local.publisher = _Publisher(app)
    queue = publisher.queues.get(task.name)
    # declare=None on a producer's first publish of the task: Celery connects (under its publish retry policy)
    # and declares the routed queue exactly as ``delay`` does. (Options celery-types does not list.)
    options: dict[str, Any] = {
        "declare": None if queue is None else [queue],
        "argsrepr": repr(args),
        "kwargsrepr": "{}",
    }
    try:
        task.apply_async(args, producer=publisher.producer, **options)
    except Exception:
        # Celery already retried (task_publish_retry); the next enqueue starts from a fresh connection.
        _local.publisher = None
        publisher.close()
        raise
    if queue is None:  # connected now: binding the queue to the channel makes no round trip
        # Celery routes with the task instance (celery-types expects its class).
        routed = app.amqp.router.route({}, task.name, args, {}, task)["queue"]  # type: ignore[arg-type]
        publisher.queues[task.name] = routed.bind(publisher.producer.channel)
