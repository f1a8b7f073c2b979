"""Closed-loop load: ``concurrency`` connections, each sending its next request as soon as the last one answered.

Bounded in time and in count: no request starts after ``duration_s`` or once ``max_requests`` were started,
and each one in flight then finishes within the client's timeout. Latency is measured from writing the
request to reading the last byte of the answer, on the client's monotonic clock.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

from benchmarks.client import TRANSPORT_ERRORS, HttpConnection
from benchmarks.cpu import CpuProbe
from benchmarks.scenarios import Scenario


@dataclass
class LoadResult:
    """What one or more runs of a scenario measured (``merge`` adds rounds together)."""

    latencies_ns: list[int] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds used meanwhile, by part (cpu.py)

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())

    def merge(self, other: LoadResult) -> None:
        self.latencies_ns += other.latencies_ns
        self.outcomes += other.outcomes
        self.wall_s += other.wall_s
        for part, seconds in other.cpu_s.items():
            self.cpu_s[part] = self.cpu_s.get(part, 0.0) + seconds


async def _drive(
    scenario: Scenario, port: int, *, concurrency: int, duration_s: float, max_requests: int, timeout_s: float
) -> LoadResult:
    result = LoadResult()
    latencies, outcomes = result.latencies_ns, result.outcomes
    deadline = time.monotonic() + duration_s
    started = 0

    async def connection_loop() -> None:
        nonlocal started
        connection = HttpConnection(port, timeout=timeout_s)
        try:
            while started < max_requests and time.monotonic() < deadline:
                started += 1
                request = scenario.next_request()
                t0 = time.perf_counter_ns()
                try:
                    response = await connection.request(request)
                except TRANSPORT_ERRORS as exc:
                    outcomes[f"transport:{type(exc).__name__}"] += 1
                    await asyncio.sleep(0.01)  # a refused/reset connection must not spin
                    continue
                latencies.append(time.perf_counter_ns() - t0)
                outcomes[scenario.judge(request, response)] += 1
        finally:
            connection.close()

    await asyncio.gather(*(connection_loop() for _ in range(concurrency)))
    return result


def run_load(
    scenario: Scenario,
    port: int,
    *,
    concurrency: int,
    duration_s: float,
    max_requests: int = 1_000_000,
    timeout_s: float = 10.0,
    cpu_probe: CpuProbe | None = None,
) -> LoadResult:
    """Drive ``scenario`` against ``127.0.0.1:port`` and return what was measured."""
    cpu_before = cpu_probe() if cpu_probe else {}
    wall_before = time.monotonic()
    result = asyncio.run(
        _drive(
            scenario,
            port,
            concurrency=concurrency,
            duration_s=duration_s,
            max_requests=max_requests,
            timeout_s=timeout_s,
        )
    )
    # Wall time runs until the last request in flight at the deadline has answered: requests / wall_s is
    # then exactly the rate the server sustained.
    result.wall_s = time.monotonic() - wall_before
    if cpu_probe:
        cpu_after = cpu_probe()
        result.cpu_s = {part: cpu_after[part] - cpu_before[part] for part in cpu_after}
    return result
