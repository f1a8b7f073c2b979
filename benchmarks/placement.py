"""Where a suite's processes run: ``shared`` or ``split`` (Linux CPU affinity, ``sched_setaffinity``).

``shared`` leaves placement to the kernel: gunicorn, MariaDB, Redis, RabbitMQ and the load generator compete for
every core. Then a lock's throughput pays for MariaDB's and Redis's work on the cores gunicorn would use, while
the bare view (which asks no service) gets those cores for itself: the throughput ratio mixes the app server's cost
with its database's.

``split`` pins gunicorn (master, workers, every thread) to the first half of the cores and the services and the
load generator to the other half, restoring every affinity afterwards: the app server on cores of its own, its
dependencies elsewhere, as in production (docker/compose.yml runs each service in a container of its own, usually
on hosts of their own). Both the bare view and its subjects run on the same gunicorn cores, so each throughput
ratio compares the app server with itself. Only local service processes can be pinned (their names in
``benchmarks.cpu.SERVICE_PROCESSES``); pinning needs the right to change their affinity (root, or the same user).
When a core count below 2 or a refusal makes the split impossible, ``pinned`` says why and the suite is not
measured in that placement.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.cpu import SERVICE_PROCESSES, pids_named

SHARED = "shared"
SPLIT = "split"
PLACEMENTS = (SHARED, SPLIT)


class PlacementUnavailable(RuntimeError):
    """The split cannot be made here (too few cores, no right to pin a process)."""


def _tasks(pid: int) -> list[int]:
    try:
        return [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _pin(pid: int, cores: set[int]) -> None:
    """Every thread of ``pid`` onto ``cores``; threads it starts later inherit their creator's affinity."""
    for tid in _tasks(pid):
        try:
            os.sched_setaffinity(tid, cores)
        except ProcessLookupError:
            continue  # the thread ended meanwhile


def split_cores(available: set[int] | None = None) -> tuple[set[int], set[int]]:
    """(gunicorn's cores, everyone else's): the first half of the cores this process may use, and the rest."""
    cores = sorted(available if available is not None else os.sched_getaffinity(0))
    if len(cores) < 2:
        raise PlacementUnavailable(f"{len(cores)} core: nothing to split")
    half = len(cores) // 2
    return set(cores[:half]), set(cores[half:])


@contextmanager
def split_placement(
    server_pids: Callable[[], list[int]], services: dict[str, list[int]] | None = None
) -> Iterator[dict[str, Any]]:
    """Pin gunicorn to its half, the services (by default the local ones) and this process to the other; yields the
    placement's description for the report. Every pinned process gets the affinity it had back, new threads
    included."""
    app_cores, other_cores = split_cores()
    if services is None:
        services = {name: pids_named(names) for name, names in SERVICE_PROCESSES.items()}
    pinned = {"gunicorn": server_pids(), **services, "loadgen": [os.getpid()]}
    before = {pid: os.sched_getaffinity(pid) for pids in pinned.values() for pid in pids if _alive(pid)}
    try:
        for part, pids in pinned.items():
            for pid in pids:
                _pin(pid, app_cores if part == "gunicorn" else other_cores)
    except PermissionError as exc:
        _restore(before)
        raise PlacementUnavailable(f"no right to pin a process here: {exc}") from exc
    try:
        yield {
            "placement": SPLIT,
            "gunicorn_cores": sorted(app_cores),
            "other_cores": sorted(other_cores),
            "pinned": {part: pids for part, pids in pinned.items() if pids},
        }
    finally:
        _restore(before)


def _restore(before: dict[int, set[int]]) -> None:
    for pid, cores in before.items():
        try:
            _pin(pid, cores)
        except PermissionError:
            continue
