"""``python -m benchmarks [--suite NAME ...]``: prepare the bench database, then measure each suite, check, report.

Every suite by default (trial, lock, settle, race, gateway, notify), in that order, each on a gunicorn of its own,
every process on every core; then the suites with targets (trial, lock, settle) again with gunicorn on cores of its own
(``--placement``, ``benchmarks/placement.py``): ``trial@split``... One JSON report for the whole run
(``benchmarks/results/bench-<UTC time>.json``) and a table at the end.

Exit status: 0 when every run is sound (a missed target is reported, not a failure); 1 when a measurement
cannot be trusted (more than 1% errors, no answers, the server or the worker died) or a correctness check
failed (a team oversold, counters disagreeing, a settlement counted twice, a race seating more or fewer
than its seats, a callback not delivered exactly once); 2 when the bench could not be set up (services
unreachable, gunicorn not starting); 130 on Ctrl-C. The suites after a failed one still run (after a setup
failure or Ctrl-C they do not). Every process the harness starts (gunicorn, the Celery worker, the
receiver thread) is stopped on every path.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

from benchmarks.cpu import make_process_probe
from benchmarks.environment import BenchEnvironment, SetupError
from benchmarks.invariants import check_invariants
from benchmarks.measure import Measurement, measure, measure_burst
from benchmarks.notify import ENDPOINTS, NotifyFailed, measure_notify
from benchmarks.placement import SHARED, SPLIT, PlacementUnavailable, split_placement
from benchmarks.receiver import CallbackReceiver
from benchmarks.report import (
    RESULTS_DIR,
    endpoint_figures,
    git_commit,
    harness_problems,
    machine_info,
    ratios_and_targets,
    run_warnings,
    write_report,
)
from benchmarks.scenarios import HarnessError
from benchmarks.server import CeleryWorker, GunicornServer, ServerOptions
from benchmarks.suites import SUITES, NotifySuite, Suite
from benchmarks.summary import format_run_table, format_summary

BENCH_APP = "benchmarks.wsgi:application"  # the product's application plus the bare view (benchmarks/wsgi.py)


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
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per endpoint (default 10)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="rounds per endpoint, in alternating order A B, B A (default 4)",
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per endpoint first")
    parser.add_argument("--concurrency", type=int, default=32, help="connections, each one request at a time")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="cap per endpoint (bounds a run)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request before it counts as error")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2: one per core)")
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (the image's default)")
    parser.add_argument("--joiners", type=int, default=3, help="lock: joins sent per opened team (2 seats; default 3)")
    parser.add_argument("--race-joins", type=int, default=1000, help="race: joins on the team of 100 (default 1000)")
    parser.add_argument("--race-concurrency", type=int, default=128, help="race: connections at once (default 128)")
    parser.add_argument("--notify-teams", type=int, default=200, help="notify: teams to complete (at most --duration)")
    parser.add_argument("--notify-concurrency", type=int, default=4, help="notify: malls completing teams at once")
    parser.add_argument("--notify-wait", type=float, default=30.0, help="notify: seconds to wait for the callbacks")
    parser.add_argument(
        "--placement",
        choices=[SHARED, SPLIT, "both"],
        default="both",
        help="shared: every process on every core; split: gunicorn on half the cores, the services and the load"
        " generator on the other half (suites with targets only); both (default): shared, then split",
    )
    parser.add_argument("--skip-setup", action="store_true", help="reuse the bench database as it is")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    args = parser.parse_args(argv)
    unknown = [name for name in args.suites if name not in SUITES]
    if unknown:
        parser.error(f"unknown suite {', '.join(unknown)} (choose from {', '.join(SUITES)})")
    args.suites = list(dict.fromkeys([*args.suites, *args.suite_options])) or list(SUITES)
    positive = ("duration", "rounds", "concurrency", "max_requests", "timeout", "workers", "threads", "joiners")
    others = ("race_joins", "race_concurrency", "notify_teams", "notify_concurrency", "notify_wait")
    for name in (*positive, *others):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    # Bounds of a run on a 2-core machine: minutes, not hours; connections and workers in the tens.
    if args.warmup < 0 or args.duration > 600 or args.warmup > 120 or args.notify_wait > 600:
        parser.error("--duration and --notify-wait are at most 600 s and --warmup 0 to 120 s")
    if args.concurrency > 1024 or args.workers > 32 or args.threads > 64 or args.notify_concurrency > 64:
        parser.error("--concurrency is at most 1024, --workers 32, --threads 64, --notify-concurrency 64")
    if args.joiners > 20 or args.notify_teams > 10_000 or args.race_joins > 20_000 or args.race_concurrency > 1024:
        parser.error("--joiners is at most 20, --notify-teams 10000, --race-joins 20000, --race-concurrency 1024")
    return args


def _on_sigterm(signum: int, frame: Any) -> NoReturn:
    raise KeyboardInterrupt  # unwinds through the context managers, which stop gunicorn and the worker


def build_report(
    suite: Suite,
    measured: Measurement,
    *,
    args: argparse.Namespace,
    header: dict[str, Any],
    invariants: dict[str, Any] | None,
    checks: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    baseline = measured.scenarios[0].name
    endpoints = {}
    for scenario in measured.scenarios:
        figures = endpoint_figures(
            scenario.endpoint,
            measured.totals[scenario.name],
            concurrency=measured.concurrency,
            expected_codes=scenario.expected_codes,
        )
        if scenario.describe():
            figures["scenario"] = scenario.describe()
        if measured.checks.get(scenario.name):
            figures["checks"] = measured.checks[scenario.name]
        endpoints[scenario.name] = figures
    ratios, targets = ratios_and_targets(suite, baseline, endpoints)
    problems = harness_problems(endpoints)
    if not measured.server_alive:
        problems.append("gunicorn had no worker left at the end of the run")
    per_round = args.duration / args.rounds
    model = (
        f"the baseline {per_round:g} s, then all {measured.totals[measured.scenarios[1].name].requests} requests of"
        f" the subject (each connection its next when its last answered), then the baseline {per_round:g} s again"
        if suite.burst
        else "closed loop: each connection sends its next request when the last one answered"
    )
    report = {
        **header,
        "load": {
            "client": "asyncio HTTP/1.1 keep-alive, one process (benchmarks/client.py)",
            "model": model,
            "burst": suite.burst,
            "balance": "connections spread evenly over the workers before each round (benchmarks/loadgen.py)",
            "concurrency": measured.concurrency,
            "duration_s": args.duration,
            "rounds": 1 if suite.burst else args.rounds,
            "warmup_s": args.warmup,
            "timeout_s": args.timeout,
        },
        "baseline": baseline,
        "endpoints": endpoints,
        "ratios": ratios,
        "targets": targets,
        "warmup": measured.warmup,
        "checks": checks,
    }
    if invariants is not None:
        report["invariants"] = invariants
    return {**report, "warnings": run_warnings(endpoints), "harness_ok": not problems, "problems": problems}


def run_throughput(
    suite: Suite,
    env: BenchEnvironment,
    options: ServerOptions,
    args: argparse.Namespace,
    run_id: str,
    placement: str = SHARED,
) -> tuple[dict[str, Any], str]:
    header = {
        "name": report_name(suite.name, placement),
        "description": suite.description,
        "run_id": run_id,
        "created_at": _now(),
    }
    with GunicornServer(env, options) as server, ExitStack() as pinned:
        where = {"placement": SHARED} if placement == SHARED else pinned.enter_context(split_placement(server.pids))
        print(f"gunicorn on 127.0.0.1:{server.port} (workers {server.worker_pids()}), suite {header['name']!r}")
        probe = make_process_probe(server.pids)
        try:
            measured = (measure_burst if suite.burst else measure)(suite, server, args, run_id, probe)
        except HarnessError as exc:
            raise HarnessError(f"{exc}\ngunicorn's log ends with:\n{server.log_tail(10)}") from exc
        log_tail = server.log_tail(10)
    header["placement"] = where
    checks = {}
    for scenario in measured.scenarios:
        result = scenario.check(env)
        if result is not None:
            checks[scenario.name] = result
    invariants = check_invariants(env, run_id=run_id) if suite.check_invariants else None
    report = build_report(suite, measured, args=args, header=header, invariants=invariants, checks=checks)
    return report, log_tail


def report_name(name: str, placement: str) -> str:
    """A suite's or a target's name in the run's report: ``lock`` when shared, ``lock@split`` when split."""
    return name if placement == SHARED else f"{name}@{placement}"


def run_notify(
    suite: NotifySuite, env: BenchEnvironment, options: ServerOptions, args: argparse.Namespace, run_id: str
) -> tuple[dict[str, Any], str]:
    header = {"name": suite.name, "description": suite.description, "run_id": run_id, "created_at": _now()}
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
                probe=make_process_probe(server.pids, {"celery": worker.pids}),
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
        header["celery"] = worker.describe()
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
    for name, checks in report.get("checks", {}).items():
        if not checks.get("ok"):
            failures.append(f"{name} checks failed: {checks}")
    delivery = report.get("delivery")
    if delivery is not None and not delivery["exactly_once"]:
        failures.append(f"notify callbacks not delivered exactly once: {delivery}")
    return failures


def run_suite(
    suite: Suite | NotifySuite,
    env: BenchEnvironment,
    options: ServerOptions,
    args: argparse.Namespace,
    placement: str = SHARED,
) -> dict[str, Any]:
    """Measure one suite on a gunicorn of its own: its report, with ``failures`` (empty: sound and correct)."""
    run_id = uuid.uuid4().hex[:8]
    started = time.monotonic()
    name = report_name(suite.name, placement)
    try:
        if isinstance(suite, NotifySuite):
            env.purge_queue()  # leftovers of an interrupted run must not be delivered here
            report, log_tail = run_notify(suite, env, options, args, run_id)
        else:
            report, log_tail = run_throughput(suite, env, options, args, run_id, placement)
    except PlacementUnavailable as exc:
        print(f"{name}: not measured: {exc}", flush=True)
        return {"name": name, "run_id": run_id, "skipped": str(exc), "harness_ok": True, "problems": [], "failures": []}
    except HarnessError as exc:
        print(f"error: {name}: {exc}", file=sys.stderr)
        return {"name": name, "run_id": run_id, "harness_ok": False, "problems": [str(exc)], "failures": []}
    finally:
        purged = env.purge_queue()  # the settle suite's callbacks, enqueued for no worker
    report["queue_messages_purged_after"] = purged
    report["wall_s"] = round(time.monotonic() - started, 1)  # the whole suite: server start, setup, checks
    print(format_summary(report), flush=True)
    report["failures"] = correctness_failures(report)
    for failure in report["failures"]:
        print(f"FAILED: {suite.name}: {failure}", file=sys.stderr)
    if report["problems"]:
        print("the harness failed; the server's log ended with:\n" + log_tail, file=sys.stderr)
    return report


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_report(
    reports: list[dict[str, Any]], *, env: BenchEnvironment, options: ServerOptions, args: argparse.Namespace
) -> dict[str, Any]:
    """The whole run in one JSON: where and how it ran, every target, every suite's report."""
    targets = {  # one key per subject and placement: "lock", "lock@split"
        report_name(subject, report.get("placement", {}).get("placement", SHARED)): {**target, "suite": report["name"]}
        for report in reports
        for subject, target in report.get("targets", {}).items()
    }
    return {
        "name": "bench",
        "created_at": _now(),
        "git": git_commit(),
        "machine": machine_info(),
        "server": {**options.describe(), "gunicorn_version": metadata.version("gunicorn"), **env.describe()},
        "arguments": {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()},
        "targets": targets,
        "harness_ok": all(report["harness_ok"] for report in reports),
        "correct": not any(report["failures"] for report in reports),
        "suites": {report["name"]: report for report in reports},
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    suites = [SUITES[name] for name in args.suites]
    env = BenchEnvironment.from_environ()
    options = ServerOptions(workers=args.workers, worker_class=args.worker_class, threads=args.threads, app=BENCH_APP)
    signal.signal(signal.SIGTERM, _on_sigterm)
    reports = []
    started = time.monotonic()
    try:
        env.check()
        if not args.skip_setup:
            print(f"preparing the bench database ({env.describe()['database']}, redis {env.describe()['redis']})")
            t0 = time.monotonic()
            env.create_database()
            env.load_fixtures()
            print(f"  migrated and loaded the demo data in {time.monotonic() - t0:.1f} s")
        for suite in suites:
            if args.placement != SPLIT:
                reports.append(run_suite(suite, env, options, args))
        for suite in suites:  # the suites with targets again, gunicorn on cores of its own (benchmarks/placement.py)
            if args.placement != SHARED and isinstance(suite, Suite) and suite.targets:
                reports.append(run_suite(suite, env, options, args, placement=SPLIT))
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; gunicorn and the worker stopped", file=sys.stderr)
        return 130
    report = run_report(reports, env=env, options=options, args=args)
    report["duration_s"] = round(time.monotonic() - started, 1)
    # latest-bench.json is the last sound measurement, a correctness failure included (it must show).
    paths = write_report(report, results_dir=args.results_dir, latest=report["harness_ok"])
    print(format_run_table(report))
    print("  wrote " + ", ".join(str(path) for path in paths), flush=True)
    if report["harness_ok"] and report["correct"]:
        print(f"suites {', '.join(args.suites)}: all sound ({report['duration_s']} s)")
        return 0
    print(f"suites {', '.join(args.suites)}: FAILED (see above)", file=sys.stderr)
    return 1
