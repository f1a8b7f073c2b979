"""``python -m benchmarks [--suite NAME ...]``: prepare the bench database, then measure each suite, check, report.

Every suite by default (trial, lock, notify), in that order, each on a gunicorn of its own; a JSON report each.

Exit status: 0 when every run is sound (a missed target is reported, not a failure); 1 when a measurement
cannot be trusted (more than 1% errors, no answers, the server or the worker died) or a correctness check
failed (a team oversold, counters disagreeing, a callback not delivered exactly once); 2 when the bench could
not be set up (services unreachable, gunicorn not starting); 130 on Ctrl-C. The suites after a failed one
still run (after a setup failure or Ctrl-C they do not). Every process the harness starts (gunicorn, the
Celery worker, the receiver thread) is stopped on every path.
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
from benchmarks.invariants import check_invariants
from benchmarks.loadgen import LoadResult, run_load
from benchmarks.notify import ENDPOINTS, NotifyFailed, measure_notify
from benchmarks.receiver import CallbackReceiver
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
from benchmarks.server import CeleryWorker, GunicornServer, ServerOptions
from benchmarks.suites import SUITES, NotifySuite, Suite


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
    parser.add_argument("suites", nargs="*", metavar="SUITE", help="as --suite (the harness's first form)")
    parser.add_argument(
        "--suite",
        action="append",
        dest="suite_options",
        default=[],
        choices=list(SUITES),
        help="what to measure; repeat for several (default: all, in the order " + ", ".join(SUITES) + ")",
    )
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
    parser.add_argument("--joiners", type=int, default=3, help="lock: joins sent per opened team (2 seats; default 3)")
    parser.add_argument("--notify-teams", type=int, default=200, help="notify: teams to complete (at most --duration)")
    parser.add_argument("--notify-concurrency", type=int, default=4, help="notify: malls completing teams at once")
    parser.add_argument("--notify-wait", type=float, default=30.0, help="notify: seconds to wait for the callbacks")
    parser.add_argument("--skip-setup", action="store_true", help="reuse the bench database as it is")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    args = parser.parse_args(argv)
    unknown = [name for name in args.suites if name not in SUITES]
    if unknown:
        parser.error(f"unknown suite {', '.join(unknown)} (choose from {', '.join(SUITES)})")
    args.suites = list(dict.fromkeys([*args.suites, *args.suite_options])) or list(SUITES)
    positive = ("duration", "rounds", "concurrency", "max_requests", "timeout", "workers", "threads", "joiners")
    for name in (*positive, "notify_teams", "notify_concurrency", "notify_wait"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    # Bounds of a run on a 2-core machine: minutes, not hours; connections and workers in the tens.
    if args.warmup < 0 or args.duration > 600 or args.warmup > 120 or args.notify_wait > 600:
        parser.error("--duration and --notify-wait are at most 600 s and --warmup 0 to 120 s")
    if args.concurrency > 1024 or args.workers > 32 or args.threads > 64 or args.notify_concurrency > 64:
        parser.error("--concurrency is at most 1024, --workers 32, --threads 64, --notify-concurrency 64")
    if args.joiners > 20 or args.notify_teams > 10_000:
        parser.error("--joiners is at most 20 and --notify-teams 10000")
    return args


def _on_sigterm(signum: int, frame: Any) -> NoReturn:
    raise KeyboardInterrupt  # unwinds through the context managers, which stop gunicorn and the worker


def measure(suite: Suite, server: GunicornServer, args: argparse.Namespace, run_id: str) -> Measurement:
    """Warm every scenario up, then measure them in alternating rounds (A B, B A, A B ...) on the same server."""
    scenarios = suite.scenarios(run_id, args)
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


def report_header(
    suite: Suite | NotifySuite,
    *,
    env: BenchEnvironment,
    options: ServerOptions,
    run_id: str,
    started_at: datetime,
) -> dict[str, Any]:
    return {
        "name": suite.name,
        "description": suite.description,
        "created_at": started_at.isoformat(timespec="seconds"),
        "run_id": run_id,
        "git": git_commit(),
        "machine": machine_info(),
        "server": {**options.describe(), "gunicorn_version": metadata.version("gunicorn"), **env.describe()},
    }


def build_report(
    suite: Suite,
    measured: Measurement,
    *,
    args: argparse.Namespace,
    header: dict[str, Any],
    invariants: dict[str, Any] | None,
) -> dict[str, Any]:
    baseline = measured.scenarios[0].name
    endpoints = {}
    for scenario in measured.scenarios:
        figures = endpoint_figures(
            scenario.endpoint,
            measured.totals[scenario.name],
            concurrency=args.concurrency,
            expected_codes=scenario.expected_codes,
        )
        if scenario.describe():
            figures["scenario"] = scenario.describe()
        endpoints[scenario.name] = figures
    for name, checks in measured.checks.items():
        if checks:
            endpoints[name]["checks"] = checks
    ratios, targets = ratios_and_targets(suite, baseline, endpoints)
    problems = harness_problems(endpoints)
    if not measured.server_alive:
        problems.append("gunicorn had no worker left at the end of the run")
    report = {
        **header,
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
    }
    if invariants is not None:
        report["invariants"] = invariants
    return {**report, "warnings": run_warnings(endpoints), "harness_ok": not problems, "problems": problems}


def run_throughput(
    suite: Suite, env: BenchEnvironment, options: ServerOptions, args: argparse.Namespace, run_id: str
) -> tuple[dict[str, Any], str]:
    started_at = datetime.now(UTC)
    with GunicornServer(env, options) as server:
        print(f"gunicorn on 127.0.0.1:{server.port} (workers {server.worker_pids()}), suite {suite.name!r}")
        try:
            measured = measure(suite, server, args, run_id)
        except HarnessError:
            print(f"gunicorn's log ends with:\n{server.log_tail(10)}", file=sys.stderr)
            raise
        log_tail = server.log_tail(10)
    invariants = check_invariants(env, run_id=run_id) if suite.check_invariants else None
    header = report_header(suite, env=env, options=options, run_id=run_id, started_at=started_at)
    return build_report(suite, measured, args=args, header=header, invariants=invariants), log_tail


def run_notify(
    suite: NotifySuite, env: BenchEnvironment, options: ServerOptions, args: argparse.Namespace, run_id: str
) -> tuple[dict[str, Any], str]:
    started_at = datetime.now(UTC)
    # The worker starts first: its start-up overlaps gunicorn's, and the warm-up waits until it delivers.
    with (
        CallbackReceiver(run_id=run_id) as receiver,
        CeleryWorker(env, name=f"bench-{run_id}") as worker,
        GunicornServer(env, options) as server,
    ):
        print(
            f"gunicorn on 127.0.0.1:{server.port} (workers {server.worker_pids()}), celery worker {worker.pids()[:1]},"
            f" receiver on 127.0.0.1:{receiver.port}, suite {suite.name!r}",
            flush=True,
        )
        try:
            body = measure_notify(
                env,
                port=server.port,
                receiver=receiver,
                probe=make_probe(server.pids, {"celery": worker.pids}),
                run_id=run_id,
                teams=args.notify_teams,
                concurrency=args.notify_concurrency,
                duration_s=args.duration,
                wait_s=args.notify_wait,
                timeout_s=args.timeout,
            )
        except NotifyFailed as exc:
            raise HarnessError(f"{exc}\ncelery's log ends with:\n{worker.log_tail(10)}") from exc
        server_alive, worker_alive = bool(server.worker_pids()), worker.alive()
        log_tail = server.log_tail(10) + "\ncelery:\n" + worker.log_tail(10)
        worker_description = worker.describe()
    invariants = check_invariants(env, run_id=run_id) if suite.check_invariants else None

    phase = body["phase"]
    endpoints = {
        name: endpoint_figures(ENDPOINTS[name], result, concurrency=args.notify_concurrency)
        for name, result in phase.results.items()
    }
    problems = harness_problems(endpoints)
    if not server_alive:
        problems.append("gunicorn had no worker left at the end of the run")
    if not worker_alive:
        problems.append("the celery worker died during the run")
    header = report_header(suite, env=env, options=options, run_id=run_id, started_at=started_at)
    header["server"]["celery"] = worker_description
    warnings = run_warnings(endpoints)
    other = body["cpu"].get("cores_used", {}).get("other", 0.0)
    if other > 0.25:
        warnings.append(f"other processes used {other} cores meanwhile; the latencies are noisy")
    report = {
        **header,
        "load": {
            "client": "asyncio HTTP/1.1 keep-alive, one process (benchmarks/client.py); receiver: a thread of it",
            "model": (
                f"closed loop: {args.notify_concurrency} malls, each completing one team after the other "
                "(open, 2 joins, 3 settlements; HTTP notify to the receiver)"
            ),
            "concurrency": args.notify_concurrency,
            "teams": args.notify_teams,
            "teams_completed": len(phase.completions),
            "teams_failed": phase.failed_teams,
            "duration_limit_s": args.duration,
            "duration_s": round(phase.wall_s, 3),
            "wait_limit_s": args.notify_wait,
            "timeout_s": args.timeout,
        },
        "baseline": None,
        "endpoints": endpoints,
        "latency": body["latency"],
        "delivery": body["delivery"],
        "cpu": body["cpu"],
        "ratios": {},
        "targets": {},
        "warmup": body["warmup"],
    }
    if invariants is not None:
        report["invariants"] = invariants
    return {**report, "warnings": warnings, "harness_ok": not problems, "problems": problems}, log_tail


def correctness_failures(report: dict[str, Any]) -> list[str]:
    """What the run found wrong with the app (not with the measurement): exit 1, the report is still written."""
    failures = []
    invariants = report.get("invariants")
    if invariants is not None and not invariants["ok"]:
        failures.append(f"invariants violated: {invariants}")
    delivery = report.get("delivery")
    if delivery is not None and not delivery["exactly_once"]:
        failures.append(f"notify callbacks not delivered exactly once: {delivery}")
    return failures


def run_suite(
    suite: Suite | NotifySuite, env: BenchEnvironment, options: ServerOptions, args: argparse.Namespace
) -> int:
    """Measure one suite on a gunicorn of its own, write its report; 0 sound, 1 untrustworthy or incorrect."""
    run_id = uuid.uuid4().hex[:8]
    try:
        if isinstance(suite, NotifySuite):
            report, log_tail = run_notify(suite, env, options, args, run_id)
        else:
            report, log_tail = run_throughput(suite, env, options, args, run_id)
    except HarnessError as exc:
        print(f"error: {suite.name}: {exc}", file=sys.stderr)
        return 1
    problems = report["problems"]
    # latest-<name>.json is the last sound measurement, a correctness failure included (it must show).
    paths = write_report(report, results_dir=args.results_dir, latest=not problems)
    print(format_summary(report))
    print("  wrote " + ", ".join(str(path) for path in paths), flush=True)
    failures = correctness_failures(report)
    for failure in failures:
        print(f"FAILED: {suite.name}: {failure}", file=sys.stderr)
    if problems:
        print("the harness failed; the server's log ended with:\n" + log_tail, file=sys.stderr)
    return 1 if problems or failures else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    suites = [SUITES[name] for name in args.suites]
    env = BenchEnvironment.from_environ()
    options = ServerOptions(workers=args.workers, worker_class=args.worker_class, threads=args.threads)
    signal.signal(signal.SIGTERM, _on_sigterm)
    status = 0
    try:
        env.check()
        if not args.skip_setup:
            print(f"preparing the bench database ({env.describe()['database']}, redis {env.describe()['redis']})")
            t0 = time.monotonic()
            env.create_database()
            env.load_fixtures()
            print(f"  migrated and loaded the demo data in {time.monotonic() - t0:.1f} s")
        for suite in suites:
            status = max(status, run_suite(suite, env, options, args))
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; gunicorn and the worker stopped", file=sys.stderr)
        return 130
    if len(suites) > 1:
        print(f"suites {', '.join(args.suites)}: " + ("all sound" if status == 0 else "FAILED (see above)"))
    return status
