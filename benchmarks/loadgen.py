"""Closed-loop load: ``concurrency`` connections, each sending its next request as soon as the last one answered.

Bounded in time and in count: no request starts after ``duration_s`` or once ``max_requests`` were started,
and each one in flight then finishes within the client's timeout. Latency is measured from writing the
request to reading the last byte of the answer, on the client's monotonic clock.

Balance: gunicorn's workers share one listening socket and whichever wakes first accepts a connection, so
with keep-alive a round's connections could all land on one worker (8 connections opened at once: all on
one worker in ~30% of 200 tries here, idle) and halve that round. gunicorn 27's ``reuse_port`` gives each
worker a socket of its own and lets the kernel hash connections over them: a random split, not an even one
(4/4 in ~27% of tries, 1/7 or worse in ~5%). So before a round each connection asks ``/__bench__/worker``
(``benchmarks/wsgi.py``) which worker holds it, and connections are reopened until every worker holds its
share (at most one apart); then the round starts, its clock and CPU probe too. Requests are counted per
worker by the connection that sent them.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from benchmarks.client import TRANSPORT_ERRORS, HttpConnection, HttpRequest
from benchmarks.cpu import CpuProbe, cpu_delta
from benchmarks.scenarios import Scenario

WORKER_PATH = "/__bench__/worker"  # benchmarks.wsgi.WORKER_PATH (not imported: that module sets Django up)
UNKNOWN_WORKER = "unknown"  # a connection reopened mid-round: which worker took it is not known
_BALANCE_TRIES_PER_CONNECTION = 40


@dataclass
class LoadResult:
    """What one or more runs of a scenario measured (``merge`` adds rounds together)."""

    latencies_ns: list[int] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds used meanwhile, by process (cpu.py)
    worker_requests: Counter[str] = field(default_factory=Counter)  # by gunicorn worker pid
    rounds: list[dict[str, Any]] = field(default_factory=list)  # each round's spread over the workers

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())

    def merge(self, other: LoadResult) -> None:
        self.latencies_ns += other.latencies_ns
        self.outcomes += other.outcomes
        self.wall_s += other.wall_s
        for label, seconds in other.cpu_s.items():
            self.cpu_s[label] = self.cpu_s.get(label, 0.0) + seconds
        self.worker_requests += other.worker_requests
        self.rounds += other.rounds


@dataclass
class WorkerConnection:
    connection: HttpConnection
    worker: str  # the gunicorn worker's pid holding it, or UNKNOWN_WORKER


async def _which_worker(port: int, timeout_s: float) -> tuple[HttpConnection, str | None]:
    connection = HttpConnection(port, timeout=timeout_s)
    try:
        response = await connection.request(HttpRequest("GET", WORKER_PATH))
        pid = response.json().get("pid") if response.status == 200 else None
    except TRANSPORT_ERRORS:
        pid = None
    if pid is None or not connection.connected:
        connection.close()
        return connection, None
    return connection, str(pid)


async def open_balanced(
    port: int, count: int, *, workers: int, timeout_s: float
) -> tuple[list[WorkerConnection], dict[str, Any]]:
    """``count`` open connections spread over ``workers`` workers, at most ``ceil(count / workers)`` on each.

    Connections landing on a worker that holds its share already are closed and opened again, up to a bound
    of tries; should that run out (a worker not accepting), the rest are kept wherever they land and the
    round is reported unbalanced.
    """
    share = math.ceil(count / workers)
    kept: list[WorkerConnection] = []
    held: Counter[str] = Counter()
    tries = 0
    leftovers: list[WorkerConnection] = []
    while len(kept) < count and tries < count * _BALANCE_TRIES_PER_CONNECTION:
        batch = await asyncio.gather(*(_which_worker(port, timeout_s) for _ in range(count - len(kept))))
        tries += len(batch)
        for connection, pid in batch:
            if pid is not None and held[pid] < share:
                held[pid] += 1
                kept.append(WorkerConnection(connection, pid))
            elif pid is not None and len(leftovers) < count:
                leftovers.append(WorkerConnection(connection, pid))
            else:
                connection.close()
    for spare in leftovers:
        if len(kept) < count:
            held[spare.worker] += 1
            kept.append(spare)
        else:
            spare.connection.close()
    while len(kept) < count:  # no worker answered: the round's requests will tell (transport errors)
        kept.append(WorkerConnection(HttpConnection(port, timeout=timeout_s), UNKNOWN_WORKER))
        held[UNKNOWN_WORKER] += 1
    spread = sorted(held.values())
    balanced = len(held) == workers and UNKNOWN_WORKER not in held and spread[-1] - spread[0] <= 1
    return kept, {"connections": dict(sorted(held.items())), "tries": tries, "balanced": balanced}


async def _drive(
    scenario: Scenario,
    port: int,
    *,
    concurrency: int,
    duration_s: float,
    max_requests: int,
    timeout_s: float,
    workers: int | None,
    cpu_probe: CpuProbe | None,
) -> LoadResult:
    if workers:
        connections, spread = await open_balanced(port, concurrency, workers=workers, timeout_s=timeout_s)
    else:  # no keep-alive to balance (sync workers close every connection)
        connections = [
            WorkerConnection(HttpConnection(port, timeout=timeout_s), UNKNOWN_WORKER) for _ in range(concurrency)
        ]
        spread = {"connections": {UNKNOWN_WORKER: concurrency}, "tries": 0, "balanced": None}
    result = LoadResult()
    latencies, outcomes, per_worker = result.latencies_ns, result.outcomes, result.worker_requests
    started = 0
    cpu_before = cpu_probe() if cpu_probe else {}
    wall_before = time.monotonic()
    deadline = wall_before + duration_s

    async def connection_loop(held: WorkerConnection) -> None:
        nonlocal started
        connection = held.connection
        try:
            while started < max_requests and time.monotonic() < deadline:
                started += 1
                request = scenario.next_request()
                if not connection.connected:
                    held.worker = UNKNOWN_WORKER  # reopened: any worker may have taken it
                t0 = time.perf_counter_ns()
                try:
                    response = await connection.request(request)
                except TRANSPORT_ERRORS as exc:
                    outcomes[f"transport:{type(exc).__name__}"] += 1
                    await asyncio.sleep(0.01)  # a refused/reset connection must not spin
                    continue
                latencies.append(time.perf_counter_ns() - t0)
                per_worker[held.worker] += 1
                outcomes[scenario.judge(request, response)] += 1
        finally:
            connection.close()

    try:
        await asyncio.gather(*(connection_loop(held) for held in connections))
    finally:
        for held in connections:
            held.connection.close()
    # Wall time runs until the last request in flight at the deadline has answered: requests / wall_s is
    # then exactly the rate the server sustained.
    result.wall_s = time.monotonic() - wall_before
    if cpu_probe:
        result.cpu_s = cpu_delta(cpu_before, cpu_probe())
    result.rounds.append({**spread, "requests": dict(sorted(per_worker.items()))})
    return result


def run_load(
    scenario: Scenario,
    port: int,
    *,
    concurrency: int,
    duration_s: float,
    max_requests: int = 1_000_000,
    timeout_s: float = 10.0,
    workers: int | None = None,
    cpu_probe: CpuProbe | None = None,
) -> LoadResult:
    """Drive ``scenario`` against ``127.0.0.1:port`` and return what was measured.

    ``workers``: spread the connections evenly over that many gunicorn workers first (keep-alive servers only).
    The clock and the CPU probe start once the connections are open and spread.
    """
    return asyncio.run(
        _drive(
            scenario,
            port,
            concurrency=concurrency,
            duration_s=duration_s,
            max_requests=max_requests,
            timeout_s=timeout_s,
            workers=workers,
            cpu_probe=cpu_probe,
        )
    )
