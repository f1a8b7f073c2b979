"""``python -m benchmarks [SUITE]``: prepare the bench database, start gunicorn, measure, write the JSON report.

Exit status: 0 when the run is sound (a missed target is reported, not a failure), 1 when the measurement
cannot be trusted (more than 1% errors, no answers, the server died), 2 when the bench could not be set up
(services unreachable, gunicorn not starting), 130 on Ctrl-C. Gunicorn is stopped on every path.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

from benchmarks.client import TRANSPORT_ERRORS, HttpConnection
from benchmarks.cpu import make_probe
from benchmarks.environment import BenchEnvironment, SetupError
from benchmarks.loadgen import LoadResult, run_load
from benchmarks.report import (
    RESULTS_DIR,
    endpoint_figures,
    format_summary,
    git_commit,
    harness_problems,
    machine_info,
    ratios_and_targets,
    run_warnings,
    write_report,
)
from benchmarks.scenarios import SUCCESS, Scenario
from benchmarks.server import GunicornServer, ServerOptions
from benchmarks.suites import SUITES, Suite


class HarnessError(RuntimeError):
    """The server answers, but not in a way worth measuring."""


@dataclass
class Measurement:
    scenarios: list[Scenario]
    totals: dict[str, LoadResult]  # by scenario name, all rounds merged
    warmup: dict[str, dict[str, Any]]
    checks: dict[str, dict[str, Any]]
    server_alive: bool


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("suite", nargs="?", default="trial", choices=sorted(SUITES), help="what to measure")
    parser.add_argument("--duration", type=float, default=12.0, help="measured seconds per endpoint (default 12)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="rounds per endpoint, in alternating order A B, B A (default 4)",
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds per endpoint first")
    parser.add_argument("--concurrency", type=int, default=8, help="connections, each one request at a time")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="cap per endpoint (bounds a run)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request before it counts as error")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2: one per core)")
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (the image's default)")
    parser.add_argument("--skip-setup", action="store_true", help="reuse the bench database as it is")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    args = parser.parse_args(argv)
    for name in ("duration", "rounds", "concurrency", "max_requests", "timeout", "workers", "threads"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    # Bounds of a run on a 2-core machine: minutes, not hours; connections and workers in the tens.
    if args.warmup < 0 or args.duration > 600 or args.warmup > 120:
        parser.error("--duration is at most 600 s and --warmup 0 to 120 s")
    if args.concurrency > 1024 or args.workers > 32 or args.threads > 64:
        parser.error("--concurrency is at most 1024, --workers 32, --threads 64")
    return args


def _on_sigterm(signum: int, frame: Any) -> NoReturn:
    raise KeyboardInterrupt  # unwinds through the server's context manager, which stops gunicorn


def measure(suite: Suite, server: GunicornServer, args: argparse.Namespace, run_id: str) -> Measurement:
    """Warm every scenario up, then measure them in alternating rounds (A B, B A, A B ...) on the same server."""
    scenarios = suite.scenarios(run_id)
    load = {"concurrency": args.concurrency, "timeout_s": args.timeout}
    warmup = {}
    for scenario in scenarios:
        # Fills the trial's caches (credential, mapping, SKU, activity), both workers' DB and Redis
        # connections and the DCC copy, so the measured rounds see the steady state.
        result = run_load(scenario, server.port, duration_s=args.warmup, max_requests=args.max_requests, **load)
        warmup[scenario.name] = {"requests": result.requests, "outcomes": dict(result.outcomes)}
        print(f"  warm-up {scenario.name}: {result.requests} requests {dict(result.outcomes)}", flush=True)
        if result.outcomes[SUCCESS] < result.requests / 2:
            # Broken, not slow: measuring it for the full duration would only time the failure.
            raise HarnessError(f"{scenario.name} fails during warm-up: {dict(result.outcomes)}")
    totals = {scenario.name: LoadResult() for scenario in scenarios}
    cpu_probe = make_probe(server.pids)
    per_round = args.duration / args.rounds
    for round_no in range(args.rounds):
        order = scenarios if round_no % 2 == 0 else scenarios[::-1]
        for scenario in order:
            result = run_load(
                scenario,
                server.port,
                duration_s=per_round,
                max_requests=max(1, args.max_requests // args.rounds),
                cpu_probe=cpu_probe,
                **load,
            )
            totals[scenario.name].merge(result)
            rate = result.requests / result.wall_s if result.wall_s else 0.0
            print(f"  round {round_no + 1}/{args.rounds} {scenario.name}: {rate:.0f} req/s", flush=True)
    checks = {scenario.name: asyncio.run(_verify(scenario, server.port, args.timeout)) for scenario in scenarios}
    return Measurement(scenarios, totals, warmup, checks, server_alive=bool(server.worker_pids()))


async def _verify(scenario: Scenario, port: int, timeout_s: float) -> dict[str, Any]:
    connection = HttpConnection(port, timeout=timeout_s)
    try:
        return await scenario.verify(connection)
    except TRANSPORT_ERRORS as exc:
        return {"error": f"transport:{type(exc).__name__}"}
    finally:
        connection.close()


def build_report(
    suite: Suite,
    measured: Measurement,
    *,
    args: argparse.Namespace,
    env: BenchEnvironment,
    options: ServerOptions,
    run_id: str,
    started_at: datetime,
) -> dict[str, Any]:
    baseline = measured.scenarios[0].name
    endpoints = {
        scenario.name: endpoint_figures(scenario, measured.totals[scenario.name], concurrency=args.concurrency)
        for scenario in measured.scenarios
    }
    for name, checks in measured.checks.items():
        if checks:
            endpoints[name]["checks"] = checks
    ratios, targets = ratios_and_targets(suite, baseline, endpoints)
    problems = harness_problems(endpoints)
    if not measured.server_alive:
        problems.append("gunicorn had no worker left at the end of the run")
    return {
        "name": suite.name,
        "description": suite.description,
        "created_at": started_at.isoformat(timespec="seconds"),
        "run_id": run_id,
        "git": git_commit(),
        "machine": machine_info(),
        "server": {**options.describe(), "gunicorn_version": metadata.version("gunicorn"), **env.describe()},
        "load": {
            "client": "asyncio HTTP/1.1 keep-alive, one process (benchmarks/client.py)",
            "model": "closed loop: each connection sends its next request when the last one answered",
            "concurrency": args.concurrency,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "warmup_s": args.warmup,
            "timeout_s": args.timeout,
        },
        "baseline": baseline,
        "endpoints": endpoints,
        "ratios": ratios,
        "targets": targets,
        "warmup": measured.warmup,
        "warnings": run_warnings(endpoints),
        "harness_ok": not problems,
        "problems": problems,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    suite = SUITES[args.suite]
    env = BenchEnvironment.from_environ()
    options = ServerOptions(workers=args.workers, worker_class=args.worker_class, threads=args.threads)
    run_id = uuid.uuid4().hex[:8]
    signal.signal(signal.SIGTERM, _on_sigterm)
    started_at = datetime.now(UTC)
    try:
        env.check()
        if not args.skip_setup:
            print(f"preparing the bench database ({env.describe()['database']}, redis {env.describe()['redis']})")
            t0 = time.monotonic()
            env.create_database()
            env.load_fixtures()
            print(f"  migrated and loaded the demo data in {time.monotonic() - t0:.1f} s")
        with GunicornServer(env, options) as server:
            print(f"gunicorn on 127.0.0.1:{server.port} (workers {server.worker_pids()}), suite {suite.name!r}")
            try:
                measured = measure(suite, server, args, run_id)
            except HarnessError as exc:
                print(f"error: {exc}\ngunicorn's log ends with:\n{server.log_tail(10)}", file=sys.stderr)
                return 1
            log_tail = server.log_tail(10)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; gunicorn stopped", file=sys.stderr)
        return 130

    report = build_report(suite, measured, args=args, env=env, options=options, run_id=run_id, started_at=started_at)
    problems = report["problems"]
    paths = write_report(report, results_dir=args.results_dir, latest=not problems)
    print(format_summary(report))
    print("  wrote " + ", ".join(str(path) for path in paths))
    if problems:
        print("the harness failed; gunicorn's log ended with:\n" + log_tail, file=sys.stderr)
        return 1
    return 0
