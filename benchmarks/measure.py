"""How a throughput suite is measured on its server: warm-up, then rounds alternating the scenarios (or a burst).

Every round spreads its connections evenly over gunicorn's workers first (``loadgen.open_balanced``) and
samples CPU by process (``cpu.make_process_probe``) over exactly its timed window. A scenario that uses
up what it sends (settle) is replenished before the warm-up and before each of its rounds, outside the
timed window, with what the round will need at the rate last measured (a round ends early if it runs dry:
its rate stays exact). After the rounds each scenario's ``verify`` runs over one connection, untimed.
"""

from __future__ import annotations

import argparse
import asyncio
import math
from dataclasses import dataclass
from typing import Any

from benchmarks.client import TRANSPORT_ERRORS, HttpConnection
from benchmarks.cpu import CpuProbe
from benchmarks.loadgen import LoadResult, run_load
from benchmarks.scenarios import SUCCESS, HarnessError, Scenario
from benchmarks.server import GunicornServer
from benchmarks.suites import Suite

ROUND_MARGIN = 1.5  # a replenished scenario gets this much more than the last rate says a round needs
BURST_DURATION_S = 600.0  # the burst ends when all its requests answered; this only bounds a stuck one


@dataclass
class Measurement:
    scenarios: list[Scenario]
    totals: dict[str, LoadResult]  # by scenario name, all rounds merged
    warmup: dict[str, dict[str, Any]]
    checks: dict[str, dict[str, Any]]
    server_alive: bool
    concurrency: int


def _load(server: GunicornServer, args: argparse.Namespace, concurrency: int) -> dict[str, Any]:
    # Balancing needs keep-alive: a sync worker closes every connection after its answer.
    workers = server.options.workers if server.options.worker_class == "gthread" else None
    return {"concurrency": concurrency, "timeout_s": args.timeout, "workers": workers}


def _warm_up(scenario: Scenario, server: GunicornServer, args: argparse.Namespace, load: dict[str, Any]) -> LoadResult:
    # Fills the caches (credential, mapping, SKU, activity), both workers' DB and Redis connections and the
    # DCC copy, so the measured rounds see the steady state.
    result = run_load(
        scenario, server.port, duration_s=args.warmup, max_requests=_cap(scenario, args.max_requests), **load
    )
    print(f"  warm-up {scenario.name}: {result.requests} requests {dict(result.outcomes)}", flush=True)
    if result.outcomes[SUCCESS] < result.requests / 2:
        # Broken, not slow: measuring it for the full duration would only time the failure.
        raise HarnessError(f"{scenario.name} fails during warm-up: {dict(result.outcomes)}")
    return result


def _cap(scenario: Scenario, limit: int) -> int:
    capacity = scenario.capacity
    return limit if capacity is None else min(limit, capacity)


def _rate(result: LoadResult) -> float:
    return result.requests / result.wall_s if result.wall_s else 0.0


def measure(
    suite: Suite, server: GunicornServer, args: argparse.Namespace, run_id: str, probe: CpuProbe
) -> Measurement:
    """Warm every scenario up, then measure them in alternating rounds (A B, B A, A B ...) on the same server."""
    scenarios = suite.scenarios(run_id, args)
    load = _load(server, args, args.concurrency)
    for scenario in scenarios:
        scenario.replenish(server.port, need=None, timeout_s=args.timeout)
    warmup, rates = {}, {}
    for scenario in scenarios:
        result = _warm_up(scenario, server, args, load)
        warmup[scenario.name] = {"requests": result.requests, "outcomes": dict(result.outcomes)}
        rates[scenario.name] = _rate(result)
    totals = {scenario.name: LoadResult() for scenario in scenarios}
    per_round = args.duration / args.rounds
    for round_no in range(args.rounds):
        order = scenarios if round_no % 2 == 0 else scenarios[::-1]
        for scenario in order:
            need = math.ceil(rates[scenario.name] * per_round * ROUND_MARGIN) + 2 * args.concurrency
            scenario.replenish(server.port, need=need, timeout_s=args.timeout)
            budget = _cap(scenario, max(1, args.max_requests // args.rounds))
            if budget <= 0:
                raise HarnessError(f"{scenario.name} has nothing left to send (replenishing failed?)")
            result = run_load(scenario, server.port, duration_s=per_round, max_requests=budget, cpu_probe=probe, **load)
            totals[scenario.name].merge(result)
            rates[scenario.name] = _rate(result) or rates[scenario.name]
            print(f"  round {round_no + 1}/{args.rounds} {scenario.name}: {_rate(result):.0f} req/s"
                  f" {_spread(result)}", flush=True)  # fmt: skip
    return _finish(scenarios, totals, warmup, server, args, args.concurrency)


def measure_burst(
    suite: Suite, server: GunicornServer, args: argparse.Namespace, run_id: str, probe: CpuProbe
) -> Measurement:
    """The baseline warmed up and measured, the subject's whole capacity at once, the baseline again."""
    baseline, subject = suite.scenarios(run_id, args)
    load = _load(server, args, args.race_concurrency)
    subject.replenish(server.port, need=None, timeout_s=args.timeout)
    result = _warm_up(baseline, server, args, load)
    warmup = {baseline.name: {"requests": result.requests, "outcomes": dict(result.outcomes)}}
    totals = {baseline.name: LoadResult(), subject.name: LoadResult()}
    per_round = args.duration / args.rounds
    for scenario, duration_s in ((baseline, per_round), (subject, BURST_DURATION_S), (baseline, per_round)):
        budget = _cap(scenario, args.max_requests)
        result = run_load(scenario, server.port, duration_s=duration_s, max_requests=budget, cpu_probe=probe, **load)
        totals[scenario.name].merge(result)
        print(f"  {scenario.name}: {result.requests} requests in {result.wall_s:.2f} s ({_rate(result):.0f} req/s)"
              f" {dict(result.outcomes)} {_spread(result)}", flush=True)  # fmt: skip
    return _finish([baseline, subject], totals, warmup, server, args, args.race_concurrency)


def _spread(result: LoadResult) -> str:
    spread = result.rounds[-1] if result.rounds else {}
    return f"(requests by worker {spread.get('requests', {})})"


def _finish(
    scenarios: list[Scenario],
    totals: dict[str, LoadResult],
    warmup: dict[str, dict[str, Any]],
    server: GunicornServer,
    args: argparse.Namespace,
    concurrency: int,
) -> Measurement:
    checks = {scenario.name: asyncio.run(_verify(scenario, server.port, args.timeout)) for scenario in scenarios}
    return Measurement(scenarios, totals, warmup, checks, bool(server.worker_pids()), concurrency)


async def _verify(scenario: Scenario, port: int, timeout_s: float) -> dict[str, Any]:
    connection = HttpConnection(port, timeout=timeout_s)
    try:
        return await scenario.verify(connection)
    except TRANSPORT_ERRORS as exc:
        return {"error": f"transport:{type(exc).__name__}"}
    finally:
        connection.close()
