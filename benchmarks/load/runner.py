"""``python -m benchmarks.load``: the purchase flow under locust at increasing concurrency, then every invariant.

What runs, all on this machine: gunicorn (``benchmarks.server``, the image's config, production settings via
``benchmarks.load.settings``) against a database (``groupbuy_load``), Redis database (13), Celery queue
(``groupbuy_load``) and bus exchange/queues (``groupbuy_load_*``) of the suite's own; a Celery worker and the
bus consumer (``run_consumers``: refunds recover seats through it) on those; the notify receiver of the bench
(``benchmarks.receiver``) in a thread; and locust, headless, in a process of its own
(``benchmarks/load/locustfile.py``).

After locust stops, the runner waits for the worker to drain (every notify task of the run's teams delivered,
every HTTP one received), then checks, from the database, Redis and the receiver:

* ``benchmarks.invariants`` over every team of the database: none oversold, ``lock_count`` = live orders,
  Redis seats = ``lock_count - 1``;
* no double settlement: ``complete_count`` = paid orders for every team, at most one order per
  ``outTradeNo``, and every flow's answers agree with its order (settled and not refunded: paid; refunded:
  refunded; a join rejected: no live order);
* no lost notify: every team that completed (the client saw all its seats settle, or the database says
  complete) has exactly one ``trade_settlement`` task, and every HTTP task of the run's teams reached the
  receiver exactly once by uuid, signed, and is marked delivered.

Exit 0 when every invariant holds and errors stay under 1% of requests; 1 otherwise; 2 when it cannot set up.
A slow run is reported, never failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.cpu import CpuProbe, children, make_probe
from benchmarks.environment import REPO_ROOT, SetupError, SuiteEnvironment
from benchmarks.invariants import check_invariants, redis_joiners
from benchmarks.receiver import CallbackReceiver
from benchmarks.report import MAX_ERROR_SHARE, RESULTS_DIR, git_commit, machine_info, percentile, write_report
from benchmarks.server import GunicornServer, ServerOptions, _log_tail, _spawn, stop_process

LOAD_QUEUE = "groupbuy_load"  # benchmarks/load/settings.py
SETTINGS_MODULE = "benchmarks.load.settings"
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
ENDPOINT_ORDER = ("trial", "lock", "team_progress", "settle", "refund")
REJECTIONS = frozenset({"E0005", "E0006"})  # full; closed or expired (apps/trade/lock.py)
SUCCESS = "0000"
DELIVERED = 1
COMPLETE_STATUSES = (1, 3)  # complete, complete with refund
PAID, REFUNDED = 1, 2
SEAT_RECOVERY = "trade.recover_team_seat"  # the bus handler refunds need (apps/trade/apps.py)


@dataclass(frozen=True)
class LoadEnvironment(SuiteEnvironment):
    """The bench's environment with the load suite's database, Redis database and settings module."""

    database_url: str = "mysql://root@127.0.0.1:3306/groupbuy_load"
    redis_url: str = "redis://127.0.0.1:6379/13"
    env_prefix = "LOAD"
    settings_module = SETTINGS_MODULE
    settings_note = f"production; Celery queue {LOAD_QUEUE}, bus groupbuy_load_*"


class Helper:
    """A process of the suite (Celery worker, bus consumer) in its own group, stopped on every exit path."""

    def __init__(self, name: str, argv: list[str], env: LoadEnvironment) -> None:
        self.name = name
        self._tmp = tempfile.TemporaryDirectory(prefix=f"gbm-load-{name}-")
        self.log_path = Path(self._tmp.name) / f"{name}.log"
        self._process = _spawn(argv, env.django_environ(), self.log_path)

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def pids(self) -> list[int]:
        return [] if self._process is None else [self._process.pid, *children(self._process.pid)]

    def stop(self) -> str:
        process, self._process = self._process, None
        stop_process(process)
        tail = _log_tail(self.log_path, 10)
        self._tmp.cleanup()
        return tail


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n")[0])
    parser.add_argument("--stages", default="4,8,16", help="users per stage, comma-separated (default 4,8,16)")
    parser.add_argument("--stage-seconds", type=float, default=20.0, help="seconds per stage (default 20)")
    parser.add_argument("--joiners", type=int, default=3, help="joins offered per opened team (2 seats; default 3)")
    parser.add_argument("--refund-before", type=float, default=0.05, help="share of flows refunding unpaid")
    parser.add_argument("--refund-after", type=float, default=0.05, help="share of settled flows refunding")
    parser.add_argument("--progress", type=float, default=0.25, help="share of flows asking team_progress")
    parser.add_argument("--drain-timeout", type=float, default=60.0, help="seconds to wait for the worker after")
    parser.add_argument("--skip-setup", action="store_true", help="reuse the load database as it is")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    try:
        args.stage_users = [int(users) for users in args.stages.split(",")]
    except ValueError:
        parser.error("--stages is a comma-separated list of user counts")
    if not args.stage_users or not all(0 < users <= 256 for users in args.stage_users):
        parser.error("--stages: 1 to 256 users per stage")
    if not 1 <= args.stage_seconds <= 600 or not 1 <= args.joiners <= 20:
        parser.error("--stage-seconds is 1 to 600, --joiners 1 to 20")
    if not all(0 <= share <= 1 for share in (args.refund_before, args.refund_after, args.progress)):
        parser.error("shares are between 0 and 1")
    return args


class CpuSampler:
    """Cumulative CPU seconds by part, every ``interval_s``, in a thread: per-stage cores once the stages are known."""

    def __init__(self, probe: CpuProbe, interval_s: float = 0.5) -> None:
        self.probe = probe
        self.interval_s = interval_s
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self.probe()))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.time(), self.probe()))

    def cores(self, start: float, end: float) -> dict[str, float]:
        """Cores used by part between the samples nearest to ``start`` and ``end``; ``other``: nobody of the suite."""
        if len(self.samples) < 2:
            return {}
        # The first sample at or after ``start``, the last at or before ``end`` (locust's CPU reads 0 once it exits).
        first = next((sample for sample in self.samples if sample[0] >= start), self.samples[-1])
        last = next((sample for sample in reversed(self.samples) if sample[0] <= end), self.samples[0])
        wall = last[0] - first[0]
        if wall <= 0:
            return {}
        # max(0): a part whose processes changed meanwhile (a worker's child replaced) must not read negative.
        used = {part: max(0.0, last[1][part] - first[1][part]) / wall for part in last[1]}
        machine = used.pop("machine", 0.0)
        used["runner"] = used.pop("loadgen", 0.0)  # this process: the notify receiver's thread
        cores = {part: round(value, 2) for part, value in used.items()}
        cores["other"] = round(max(0.0, machine - sum(used.values())), 2)
        cores["machine"] = round(machine, 2)
        return cores


def run_locust(
    port: int,
    receiver: CallbackReceiver,
    args: argparse.Namespace,
    run_id: str,
    tmp: Path,
    probe_parts: dict[str, Any],
    server: GunicornServer,
) -> dict:
    samples_path, log_path = tmp / "samples.json", tmp / "locust.log"
    environ = {
        **os.environ,
        "LOAD_RUN_ID": run_id,
        "LOAD_STAGES": ",".join(map(str, args.stage_users)),
        "LOAD_STAGE_S": str(args.stage_seconds),
        "LOAD_NOTIFY_URL": receiver.url("flow"),
        "LOAD_SAMPLES": str(samples_path),
        "LOAD_JOINERS": str(args.joiners),
        "LOAD_REFUND_BEFORE": str(args.refund_before),
        "LOAD_REFUND_AFTER": str(args.refund_after),
        "LOAD_PROGRESS": str(args.progress),
    }
    argv = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
        "--headless", "--host", f"http://127.0.0.1:{port}",
        "--stop-timeout", "30", "--only-summary", "--loglevel", "WARNING",
    ]  # fmt: skip
    budget = args.stage_seconds * len(args.stage_users) + 90
    with log_path.open("wb") as log:
        locust = subprocess.Popen(  # noqa: S603 - this interpreter's locust with a fixed argv
            argv, cwd=REPO_ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT
        )
        probe = make_probe(server.pids, {**probe_parts, "locust": lambda: [locust.pid, *children(locust.pid)]})
        try:
            with CpuSampler(probe) as sampler:
                locust.wait(timeout=budget)
        finally:
            stop_process(locust)  # only when it overran its budget or the runner is interrupted
    summary = _log_tail(log_path, 40)
    if not samples_path.exists():
        raise SetupError(f"locust wrote no samples (exit {locust.returncode}):\n{summary}")
    samples = json.loads(samples_path.read_text())
    samples["locust_exit_code"] = locust.returncode
    starts = samples["stage_started_at"]
    ends = [*starts[1:], samples["stopped_at"]]
    samples["cores"] = [
        sampler.cores(start, end) if start and end else {} for start, end in zip(starts, ends, strict=True)
    ]
    samples["locust_summary"] = summary
    return samples


def stage_figures(samples: dict[str, Any]) -> list[dict[str, Any]]:
    """Per stage and endpoint: requests, outcomes (successes, rejections, errors by code), throughput, p50/p99."""
    latencies = {(item["stage"], item["endpoint"]): item["values"] for item in samples["latencies_ms"]}
    outcomes = {(item["stage"], item["endpoint"]): item["codes"] for item in samples["outcomes"]}
    stages = []
    for index, users in enumerate(samples["stages"]):
        endpoints = {}
        for name in ENDPOINT_ORDER:
            codes = outcomes.get((index, name), {})
            values = sorted(latencies.get((index, name), []))
            requests = sum(codes.values())
            rejections = {code: count for code, count in codes.items() if name == "lock" and code in REJECTIONS}
            errors = {code: count for code, count in codes.items() if code != SUCCESS and code not in rejections}
            endpoints[name] = {
                "requests": requests,
                "ok": codes.get(SUCCESS, 0),
                "rejections": rejections,
                "errors": errors,
                "rps": round(requests / samples["stage_s"], 1),
                "p50_ms": round(percentile(values, 50), 1),
                "p90_ms": round(percentile(values, 90), 1),
                "p99_ms": round(percentile(values, 99), 1),
                "max_ms": round(values[-1], 1) if values else 0,
            }
        flows = [flow for flow in samples["flows"] if flow.get("stage") == index]
        stages.append(
            {
                "users": users,
                "seconds": samples["stage_s"],
                "flows_started": len(flows),
                "flows_settled": sum(1 for flow in flows if flow.get("settle") == SUCCESS),
                "settled_per_s": round(
                    sum(1 for flow in flows if flow.get("settle") == SUCCESS) / samples["stage_s"], 1
                ),
                "requests_per_s": round(sum(e["requests"] for e in endpoints.values()) / samples["stage_s"], 1),
                "endpoints": endpoints,
                "cores": samples["cores"][index] if samples.get("cores") else {},
            }
        )
    return stages


def _run_teams(cursor: Any, run_id: str) -> dict[str, tuple[int, int, int, int]]:
    cursor.execute(
        "SELECT t.team_id, t.status, t.target_count, t.lock_count, t.complete_count FROM group_buy_order t"
        " WHERE t.team_id IN (SELECT o.team_id FROM group_buy_order_list o WHERE o.user_id LIKE %s)",
        (f"bench-{run_id}-%",),
    )
    return {str(row[0]): tuple(int(value) for value in row[1:]) for row in cursor.fetchall()}


_TASKS_SQL = "SELECT uuid, team_id, notify_category, notify_type, notify_status, notify_count FROM notify_task"


def _run_tasks(cursor: Any, team_ids: list[str]) -> list[tuple[str, str, str, str, int, int]]:
    rows: list[tuple[str, str, str, str, int, int]] = []
    for start in range(0, len(team_ids), 500):
        batch = team_ids[start : start + 500]
        placeholders = ", ".join(["%s"] * len(batch))
        sql = f"{_TASKS_SQL} WHERE team_id IN ({placeholders})"
        cursor.execute(sql, batch)
        rows += [(_uuid(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), int(r[5])) for r in cursor.fetchall()]
    return rows


def _uuid(value: Any) -> str:
    return str(value).replace("-", "").lower()


_APPLIED_SQL = "SELECT message_uuid FROM notify_processed_message WHERE consumer = %s"


def _seat_recoveries(cursor: Any, uuids: list[str]) -> set[str]:
    """Which of these bus messages (task uuids) the seat-recovery handler applied."""
    applied: set[str] = set()
    for start in range(0, len(uuids), 500):
        batch = uuids[start : start + 500]
        placeholders = ", ".join(["%s"] * len(batch))
        sql = f"{_APPLIED_SQL} AND message_uuid IN ({placeholders})"
        cursor.execute(sql, [SEAT_RECOVERY, *batch])
        applied |= {_uuid(row[0]) for row in cursor.fetchall()}
    return applied


def drain(env: LoadEnvironment, receiver: CallbackReceiver, run_id: str, timeout_s: float) -> dict[str, Any]:
    """Until every notify task of the run's teams is delivered, every HTTP one received and every refund's bus
    message applied by the seat recovery (or ``timeout_s``)."""
    t0 = time.monotonic()
    while True:
        connection = env.connect_database()
        try:
            cursor = connection.cursor()
            tasks = _run_tasks(cursor, list(_run_teams(cursor, run_id)))
            bus = [task[0] for task in tasks if task[3] == "MQ" and task[2] != "trade_settlement"]
            applied = _seat_recoveries(cursor, [str(uuid.UUID(key)) for key in bus] + bus)
        finally:
            connection.close()
        arrived = {_uuid(arrival.task) for arrival in receiver.arrivals("flow")}
        pending = sum(1 for task in tasks if task[4] != DELIVERED)
        received_missing = sum(1 for task in tasks if task[3] == "HTTP" and task[0] not in arrived)
        not_applied = sum(1 for key in bus if key not in applied)
        if (not pending and not received_missing and not not_applied) or time.monotonic() - t0 > timeout_s:
            break
        time.sleep(0.5)
    time.sleep(1.0)  # a duplicate callback would show now
    return {
        "waited_s": round(time.monotonic() - t0, 1),
        "tasks_pending": pending,
        "http_not_received": received_missing,
        "refund_messages": len(bus),
        "refund_messages_not_applied": not_applied,
    }


_LIVE_TEAMS_SQL = "SELECT team_id, lock_count FROM group_buy_order WHERE status IN (0, 1)"


def check_redis_seats(env: LoadEnvironment) -> dict[str, Any]:
    """``benchmarks.invariants``' Redis rule (``occupied - recovered == lock_count - 1``) for every in-progress
    or complete team with keys, except that a team every member left (``lock_count`` 0) may also read 0: that is
    what ``rebuild_redis`` (run by each run's setup) writes for it, where live recovery leaves -1. Both mean
    "nobody holds a seat"; the database's ``lock_count < target_count`` guard is unchanged either way."""
    connection = env.connect_database()
    try:
        cursor = connection.cursor()
        cursor.execute(_LIVE_TEAMS_SQL)
        teams = [(str(team_id), int(locks)) for team_id, locks in cursor.fetchall()]
    finally:
        connection.close()
    checked = mismatches = empty_rebuilt = 0
    examples: list[str] = []
    for team_id, locks, joiners in redis_joiners(env, teams):
        if joiners is None:
            continue
        checked += 1
        if joiners == locks - 1:
            continue
        if locks == 0 and joiners == 0:
            empty_rebuilt += 1
            continue
        mismatches += 1
        examples.append(f"team {team_id}: Redis joiners {joiners}, lock_count - 1 = {locks - 1}")
    return {
        "teams_checked_in_redis": checked,
        "redis_mismatches": mismatches,
        "empty_teams_as_rebuilt": empty_rebuilt,
        "examples": examples[:5],
        "ok": not mismatches,
    }


def check_flow_invariants(
    env: LoadEnvironment, receiver: CallbackReceiver, run_id: str, flows: list[dict[str, Any]]
) -> dict[str, Any]:
    """No double settlement, the database agreeing with every answer, no lost or duplicated notify."""
    connection = env.connect_database()
    try:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT t.team_id, t.complete_count, t.lock_count, SUM(o.status = %s) FROM group_buy_order t"
            " LEFT JOIN group_buy_order_list o ON o.team_id = t.team_id GROUP BY t.id, t.team_id",
            (PAID,),
        )
        all_teams = cursor.fetchall()
        cursor.execute(
            "SELECT out_trade_no, status, team_id FROM group_buy_order_list WHERE user_id LIKE %s",
            (f"bench-{run_id}-%",),
        )
        orders = cursor.fetchall()
        teams = _run_teams(cursor, run_id)
        tasks = _run_tasks(cursor, list(teams))
    finally:
        connection.close()

    examples: list[str] = []
    double_settled = 0
    for team_id, complete, locks, paid in all_teams:
        if int(complete) != int(paid or 0) or int(complete) > int(locks):
            double_settled += 1
            examples.append(f"team {team_id}: complete_count {complete}, paid orders {paid}, lock_count {locks}")

    by_out_trade_no: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for out_trade_no, status, team_id in orders:
        by_out_trade_no[str(out_trade_no)].append((int(status), str(team_id)))
    duplicate_orders = sum(1 for rows in by_out_trade_no.values() if len(rows) > 1)
    answer_mismatches = 0
    settled_by_team: Counter[str] = Counter()  # paid seats the client knows of (settled, not refunded)
    for flow in flows:
        rows = by_out_trade_no.get(flow["out_trade_no"], [])
        statuses = [status for status, _ in rows]
        refunded = flow.get("refund") == SUCCESS
        if flow.get("settle") == SUCCESS and not refunded:
            settled_by_team[flow.get("team", "")] += 1
        if refunded:
            expected: list[int] | None = [REFUNDED]
        elif flow.get("settle") == SUCCESS:
            expected = [PAID]
        elif flow.get("lock") in REJECTIONS:
            expected = []  # no order, or a closed one
            statuses = [status for status in statuses if status != REFUNDED]
        else:
            expected = None  # interrupted, or an error: the outcome is unknown to the client
        if expected is not None and statuses != expected:
            answer_mismatches += 1
            examples.append(f"{flow['out_trade_no']}: answers {flow}, orders {rows}")

    completed = {team_id for team_id, (status, *_rest) in teams.items() if status in COMPLETE_STATUSES}
    completed |= {
        team_id for team_id, count in settled_by_team.items() if team_id in teams and count >= teams[team_id][1]
    }
    settlement_tasks = Counter(task[1] for task in tasks if task[2] == "trade_settlement")
    http_tasks = {task[0]: task for task in tasks if task[3] == "HTTP"}
    arrivals = receiver.arrivals("flow")
    arrived = Counter(_uuid(arrival.task) for arrival in arrivals)
    notify = {
        "completed_teams": len(completed),
        "completed_without_settlement_task": sum(1 for team_id in completed if settlement_tasks[team_id] == 0),
        "completed_with_several_settlement_tasks": sum(1 for team_id in completed if settlement_tasks[team_id] > 1),
        "settlement_task_for_uncompleted_team": sum(1 for team_id in settlement_tasks if team_id not in completed),
        "http_tasks": len(http_tasks),
        "http_tasks_by_category": dict(Counter(task[2] for task in http_tasks.values())),
        "mq_tasks": sum(1 for task in tasks if task[3] == "MQ"),
        "received_once": sum(1 for key in http_tasks if arrived[key] == 1),
        "lost": sum(1 for key in http_tasks if not arrived[key]),
        "duplicated": sum(1 for key in http_tasks if arrived[key] > 1),
        "unexpected": sum(count for key, count in arrived.items() if key not in http_tasks),
        "bad_signatures": sum(1 for arrival in arrivals if not arrival.signature_ok),
        "foreign_callbacks": len(receiver.arrivals("foreign")),
        "not_marked_delivered": sum(1 for task in tasks if task[4] != DELIVERED),
        "attempts_above_one": sum(1 for task in tasks if task[5] > 1),
    }
    failures = [
        key
        for key in (
            "completed_without_settlement_task",
            "completed_with_several_settlement_tasks",
            "settlement_task_for_uncompleted_team",
            "lost",
            "duplicated",
            "unexpected",
            "bad_signatures",
            "not_marked_delivered",
        )
        if notify[key]
    ]
    notify["exactly_once"] = not failures and bool(completed)
    return {
        "double_settlement": {
            "teams_with_complete_count_not_paid_orders": double_settled,
            "teams_checked": len(all_teams),
            "out_trade_nos_with_several_orders": duplicate_orders,
            "answers_disagreeing_with_orders": answer_mismatches,
            "run_orders": len(orders),
            "run_orders_by_status": dict(
                Counter(str(status) for status, _ in (row for rows in by_out_trade_no.values() for row in rows))
            ),
            "ok": not (double_settled or duplicate_orders or answer_mismatches),
        },
        "notify": notify,
        "examples": examples[:5],
        "ok": not (double_settled or duplicate_orders or answer_mismatches) and notify["exactly_once"],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = LoadEnvironment.from_environ()
    run_id = uuid.uuid4().hex[:8]
    started_at = datetime.now(UTC)
    t_start = time.monotonic()
    try:
        env.check()
        if not args.skip_setup:
            print(f"preparing {env.database_name()} (migrate, demo data, Redis state)...", flush=True)
            env.create_database()
            env.load_fixtures()
    except SetupError as exc:
        print(f"load: cannot set up: {exc}", file=sys.stderr)
        return 2

    options = ServerOptions()
    helpers: list[Helper] = []
    logs: dict[str, str] = {}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="gbm-load-") as tmp,
            CallbackReceiver(run_id=run_id) as receiver,
        ):
            celery = [
                sys.executable, "-m", "celery", "-A", "config.celery_app", "worker", "--loglevel", "warning",
                "--concurrency", "2", "--queues", LOAD_QUEUE, "--hostname", f"load-{run_id}@%h",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ]  # fmt: skip
            helpers.append(Helper("celery", celery, env))
            helpers.append(Helper("consumer", [sys.executable, "manage.py", "run_consumers"], env))
            with GunicornServer(env, options) as server:
                print(
                    f"gunicorn on 127.0.0.1:{server.port}, receiver on 127.0.0.1:{receiver.port}; locust stages"
                    f" {args.stage_users} users x {args.stage_seconds:.0f} s (run {run_id})",
                    flush=True,
                )
                parts = {helper.name: helper.pids for helper in helpers}
                samples = run_locust(server.port, receiver, args, run_id, Path(tmp), parts, server)
                server_alive = bool(server.worker_pids())
                logs["gunicorn"] = server.log_tail(10)
            drained = drain(env, receiver, run_id, args.drain_timeout)
            helpers_alive = {helper.name: helper.alive() for helper in helpers}
            invariants = check_invariants(env, run_id=run_id)
            redis_seats = check_redis_seats(env)
            flow_checks = check_flow_invariants(env, receiver, run_id, samples["flows"])
    except SetupError as exc:
        print(f"load: cannot set up: {exc}", file=sys.stderr)
        return 2
    finally:
        for helper in helpers:
            logs[helper.name] = helper.stop()

    stages = stage_figures(samples)
    requests = sum(e["requests"] for stage in stages for e in stage["endpoints"].values())
    errors = sum(sum(e["errors"].values()) for stage in stages for e in stage["endpoints"].values())
    problems = []
    if not server_alive:
        problems.append("gunicorn had no worker left at the end of the run")
    problems += [f"the {name} died during the run" for name, alive in helpers_alive.items() if not alive]
    if not requests:
        problems.append("no request completed")
    elif errors > MAX_ERROR_SHARE * requests:
        problems.append(f"{errors} errors in {requests} requests (above {MAX_ERROR_SHARE:.0%})")
    if drained["tasks_pending"] or drained["refund_messages_not_applied"]:
        problems.append(f"the worker or the bus consumer did not drain in {args.drain_timeout:.0f} s: {drained}")
    if invariants["oversold_teams"] or invariants["lock_count_mismatches"]:
        problems.append("invariants: a team oversold or its lock_count disagreeing with its orders")
    if not redis_seats["ok"]:
        problems.append("invariants: Redis seats disagree with the database")
    if not flow_checks["double_settlement"]["ok"]:
        problems.append("double settlement or answers disagreeing with the database")
    if not flow_checks["notify"]["exactly_once"]:
        problems.append("a notify was lost, duplicated or missing")

    report = {
        "name": "load",
        "description": "whole purchase flow (trial, lock, team_progress, settle, refund) under locust, by stage",
        "run_id": run_id,
        "started_at": started_at.isoformat(timespec="seconds"),
        "wall_s": round(time.monotonic() - t_start, 1),
        "git": git_commit(),
        "machine": machine_info(),
        "environment": env.describe(),
        "server": {**options.describe(), "celery": {"concurrency": 2, "queue": LOAD_QUEUE}},
        "load": {
            "generator": "locust (headless, FastHttpUser, one process)",
            "stages": args.stage_users,
            "stage_s": args.stage_seconds,
            "joiners_per_team": args.joiners,
            "refund_before_settle": args.refund_before,
            "refund_after_settle": args.refund_after,
            "team_progress_share": args.progress,
            "locust_exit_code": samples["locust_exit_code"],
        },
        "stages": stages,
        "totals": {"requests": requests, "errors": errors, "flows": len(samples["flows"])},
        "drain": drained,
        "invariants": {"teams": invariants, "redis_seats": redis_seats, **flow_checks},
        "problems": problems,
        "ok": not problems,
    }
    paths = write_report(report, results_dir=args.results_dir)
    print(format_summary(report))
    print("report:", ", ".join(str(path) for path in paths))
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        for name, tail in logs.items():
            print(f"--- {name} log ---\n{tail}", file=sys.stderr)
    return 0 if not problems else 1


def format_summary(report: dict[str, Any]) -> str:
    lines = [f"load suite, run {report['run_id']}, {report['wall_s']} s"]
    lines.append(f"  {'users':>5} {'endpoint':<14} {'req':>6} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}  outcomes")
    for stage in report["stages"]:
        for name, e in stage["endpoints"].items():
            outcomes = {"ok": e["ok"], **e["rejections"], **e["errors"]}
            lines.append(
                f"  {stage['users']:>5} {name:<14} {e['requests']:>6} {e['rps']:>7} {e['p50_ms']:>8}"
                f" {e['p99_ms']:>8}  {outcomes}"
            )
        lines.append(
            f"  {stage['users']:>5} {'flows settled':<14} {stage['flows_settled']:>6} {stage['settled_per_s']:>7}"
            f"  cores: {stage['cores']}"
        )
    teams, settlement, notify = (report["invariants"][key] for key in ("teams", "double_settlement", "notify"))
    lines.append(
        f"  invariants: oversold {teams['oversold_teams']}, lock_count {teams['lock_count_mismatches']},"
        f" Redis {report['invariants']['redis_seats']['redis_mismatches']}"
        f" (invariants.py: {teams['redis_mismatches']}; {teams['teams_checked']} teams);"
        f" double settlement {settlement['teams_with_complete_count_not_paid_orders']},"
        f" answers vs DB {settlement['answers_disagreeing_with_orders']};"
        f" notify: {notify['completed_teams']} completed teams, {notify['http_tasks']} HTTP tasks,"
        f" lost {notify['lost']}, duplicated {notify['duplicated']}, exactly once {notify['exactly_once']}"
    )
    return "\n".join(lines)
