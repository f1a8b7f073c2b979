"""The embedded beat: ``make run`` runs Celery beat's schedule in its own process.

Production runs ``celery beat``, which sends each entry of ``settings.CELERY_BEAT_SCHEDULE`` to a worker.
The embedded demo has neither (Celery is eager on the in-memory broker), so without this nothing periodic
ran: expired teams stayed "in progress" with their money held, unpaid seats were never released, and a
callback that failed once was never retried. Here one daemon thread reads the same schedule from settings
and calls each entry's task by name, through Celery (``Task.apply``: the same task code, signals and log
context as a worker), at the entry's interval. A task that raises is logged and the loop goes on.

Every job runs once at start (what fell due while the server was down), then every interval.
``EMBEDDED_BEAT_SPEEDUP`` divides the intervals (tests, or a demo in fast motion); ``EMBEDDED_BEAT`` turns
the thread off or on (default: on exactly when the broker is embedded, i.e. no real beat can exist).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from celery.schedules import schedule as interval_schedule
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import close_old_connections

logger = logging.getLogger(__name__)


@dataclass
class BeatJob:
    name: str
    task: str
    every: float  # seconds, after the speed-up
    args: tuple = ()
    kwargs: dict | None = None
    next_run: float = 0.0  # time.monotonic()


def _seconds(name: str, value) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, interval_schedule) and type(value) is interval_schedule:
        return float(value.seconds)  # run_every in seconds (never negative)
    raise ImproperlyConfigured(
        f"CELERY_BEAT_SCHEDULE[{name!r}]: the embedded beat runs interval schedules (seconds, timedelta, "
        f"celery.schedules.schedule), not {type(value).__name__}"
    )


def beat_jobs(schedule: dict | None = None, *, speedup: float | None = None) -> list[BeatJob]:
    """The entries of ``CELERY_BEAT_SCHEDULE`` (or ``schedule``), intervals divided by the speed-up."""
    schedule = settings.CELERY_BEAT_SCHEDULE if schedule is None else schedule
    speedup = settings.EMBEDDED_BEAT_SPEEDUP if speedup is None else speedup
    if speedup <= 0:
        raise ImproperlyConfigured("EMBEDDED_BEAT_SPEEDUP must be a positive number")
    return [
        BeatJob(
            name=name,
            task=entry["task"],
            every=_seconds(name, entry["schedule"]) / speedup,
            args=tuple(entry.get("args", ())),
            kwargs=dict(entry.get("kwargs", {})),
        )
        for name, entry in schedule.items()
    ]


def beat_job_run(job: BeatJob) -> bool:
    """One run of ``job``'s task, in this thread; False (and a logged traceback) when it raised."""
    from config.celery_app import app

    close_old_connections()
    try:
        app.tasks[job.task].apply(args=job.args, kwargs=job.kwargs, throw=True)
    except Exception:
        logger.exception("embedded beat: %s (%s) failed; it runs again in %.0f s", job.name, job.task, job.every)
        return False
    finally:
        close_old_connections()
    return True


class EmbeddedBeat:
    """The loop: each job when due, soonest first; ``stop()`` ends it at the next wake-up."""

    def __init__(self, jobs: list[BeatJob]) -> None:
        self.jobs = jobs
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="embedded-beat", daemon=True)

    def start(self) -> EmbeddedBeat:
        from config.celery_app import app

        if not self.jobs:
            return self
        if any(job.task not in app.tasks for job in self.jobs):
            app.loader.import_default_modules()  # autodiscovery, as a worker or beat does at start
        missing = [job.task for job in self.jobs if job.task not in app.tasks]
        if missing:
            raise ImproperlyConfigured(f"CELERY_BEAT_SCHEDULE names unknown tasks: {', '.join(missing)}")
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        now = time.monotonic()
        for job in self.jobs:
            job.next_run = now
        while not self._stop.is_set():
            job = min(self.jobs, key=lambda candidate: candidate.next_run)
            wait = job.next_run - time.monotonic()
            if wait > 0:
                self._stop.wait(wait)
                continue
            beat_job_run(job)
            job.next_run = max(job.next_run + job.every, time.monotonic())


def embedded_beat_start() -> EmbeddedBeat:
    return EmbeddedBeat(beat_jobs()).start()


def describe(jobs: list[BeatJob]) -> list[str]:
    """One line per job for the start banner: ``trade-timeouts  every 30 s  (apps.trade.tasks.run_trade_timeouts)``."""
    width = max((len(job.name) for job in jobs), default=0)
    return [f"{job.name:<{width}}  every {job.every:g} s  ({job.task})" for job in jobs]
