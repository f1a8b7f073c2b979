"""Trials per activity, counted in process memory and handed to a sink every few seconds.

The trial is a hot path (issue #16): counting one must cost neither a query nor a Redis round trip. So
``trial_count`` adds 1 to a dict under a lock (well under a microsecond), and a daemon thread of each
process hands the counts to the registered sink every ``TRIAL_COUNT_FLUSH_SECONDS`` (the analytics app
registers one at start that adds them to its table: ``apps.analytics.services.trial_days_record``; this
module imports no analytics, the import contracts put analytics above activities).

Counts are dated by the day (``TIME_ZONE``) of the flush, not of each trial: a trial in the last seconds
before midnight may count for the next day. Bounded loss: a process killed without a clean exit (SIGKILL,
OOM, power) loses the trials of at most one interval; a clean exit flushes (``atexit``). A sink that fails
(database down) gets the counts back for the next flush: the buffer holds one number per activity, so it
stays small whatever the outage's length. ``TRIAL_COUNT_FLUSH_SECONDS`` = 0 starts no thread (tests flush
with ``trial_counts_flush``). docs/decisions/016-analytics-from-the-database.md.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import Counter
from datetime import date
from typing import Protocol

from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)


class TrialSink(Protocol):
    def __call__(self, *, day: date, counts: dict[int, int]) -> None: ...


_lock = threading.Lock()
_counts: Counter[int] = Counter()
_sink: TrialSink | None = None
_flusher_started = False  # in this process (a forked child starts its own: the thread does not survive a fork)
_flusher: tuple[threading.Thread, threading.Event] | None = None


def trial_counts_sink_register(sink: TrialSink) -> None:
    """Where the counts go (one sink; the app that stores them registers it in ``AppConfig.ready``)."""
    global _sink
    _sink = sink


def trial_count(activity_id: int) -> None:
    """One trial of ``activity_id``: memory only, no I/O (the flush thread writes)."""
    with _lock:
        _counts[activity_id] += 1
    if not _flusher_started:
        _flusher_start()


def trial_counts_pending() -> dict[int, int]:
    """The counts not flushed yet (a copy)."""
    with _lock:
        return dict(_counts)


def trial_counts_flush(*, day: date | None = None) -> int:
    """Hand the buffered counts to the sink, dated ``day`` (default: today in ``TIME_ZONE``); returns how many
    trials went. Without a sink, or when it fails, the counts stay buffered for the next flush."""
    with _lock:
        if not _counts or _sink is None:
            return 0
        batch = dict(_counts)
        _counts.clear()
    try:
        _sink(day=day or timezone.localdate(), counts=batch)
    except Exception:
        logger.exception("trial counts: flush failed, %d trials kept for the next one", sum(batch.values()))
        with _lock:
            _counts.update(batch)
        return 0
    return sum(batch.values())


def _flusher_start() -> None:
    global _flusher_started
    interval = settings.TRIAL_COUNT_FLUSH_SECONDS
    with _lock:
        if _flusher_started:
            return
        _flusher_started = True
    if interval <= 0:
        return
    global _flusher
    stop = threading.Event()
    thread = threading.Thread(target=_flush_every, args=(interval, stop), name="trial-counts-flush", daemon=True)
    _flusher = (thread, stop)
    thread.start()


def trial_counts_flusher_stop() -> None:
    """Stop this process's flush thread after one last flush; the next trial starts a new one (tests)."""
    global _flusher, _flusher_started
    with _lock:
        flusher, _flusher, _flusher_started = _flusher, None, False
    if flusher is not None:
        thread, stop = flusher
        stop.set()
        thread.join()


def trial_counts_reset() -> None:
    """Forget the buffered counts (tests: a count left by another test's trials)."""
    with _lock:
        _counts.clear()


def _after_fork_in_child() -> None:
    global _flusher_started, _flusher, _lock
    _flusher_started, _flusher, _lock = False, None, threading.Lock()  # a lock held at the fork stays held
    _counts.clear()  # the parent's trials are the parent's to flush


def _flush_at_exit() -> None:
    if _flusher is not None:  # a process that flushes in the background (not a test, not a command)
        trial_counts_flush()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_flush_at_exit)


def _flush_every(interval: float, stop: threading.Event) -> None:
    from django.db import connection

    while not stop.wait(interval):
        if trial_counts_flush():
            connection.close()  # this thread's own connection: not held open between flushes
    trial_counts_flush()
    connection.close()
