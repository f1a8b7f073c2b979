"""The fault suite: for each fault, a fresh gunicorn + Celery worker on private Redis/RabbitMQ, steady team
completions over the signed API, the fault injected mid-run, a bounded drain (the outbox sweep runs), checks.

Faults: ``redis`` (the private redis-server SIGKILLed and restarted empty), ``rabbitmq`` (the private node
stopped and started again), ``db`` (every connection to the fault database KILLed, three times, a second
apart), ``worker`` (the Celery worker's process group SIGKILLed while callbacks are in flight, then a new
worker). Malls retry a failed request a bounded number of times with the same ``outTradeNo`` (the API is
idempotent on it), as a mall would. Exit 0 when every check holds, 1 when one does not, 2 on a setup error.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import itertools
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

from benchmarks.client import TRANSPORT_ERRORS, HttpConnection, HttpRequest, HttpResponse
from benchmarks.environment import REPO_ROOT, BenchEnvironment, SetupError, mask_url
from benchmarks.faults.checks import check_completion, check_notify, check_stock_in_progress, pending_notify
from benchmarks.faults.services import PrivateRabbitMQ, PrivateRedis
from benchmarks.invariants import check_invariants
from benchmarks.receiver import CallbackReceiver
from benchmarks.report import write_report
from benchmarks.scenarios import (
    DEMO_ACTIVITIES,
    DEMO_CHANNEL,
    DEMO_GOODS,
    DEMO_SOURCE,
    SUCCESS,
    TrialScenario,
    envelope_code,
    envelope_data,
    lock_request,
    settle_request,
    signed_post,
)
from benchmarks.server import CeleryWorker, GunicornServer, ServerOptions

DEFAULT_DATABASE_URL = "mysql://root@127.0.0.1:3306/groupbuy_faults"
FAULTS = ("redis", "rabbitmq", "db", "worker")
# In user ids and outTradeNos: each fault its own orders (a reused outTradeNo replays the earlier order).
# Faults that may legitimately deliver a callback twice (the receiver answered, the bookkeeping did not happen:
# worker killed, or its DB connection killed before it marked the task done); the receiver dedups by uuid.
AT_LEAST_ONCE = ("db", "worker")
FAULT_TAGS = {"redis": "R", "rabbitmq": "Q", "db": "D", "worker": "W"}
TEAM_SIZE = 3
# Shortened outbox timers (settings, not code) so pending work visibly completes within the drain bound:
# a lease left by a killed worker expires after 10 s (default 60), a failed attempt is retried after 5 s (15).
SETTINGS_OVERRIDES = {"NOTIFY_LEASE_SECONDS": "10", "NOTIFY_BACKOFF_SECONDS": "5"}
SWEEP = "from apps.notifications.tasks import deliver_due_notify_tasks as t; print(t())"
TRIAL_PATH = TrialScenario.path
MALL_PRODUCT_PATH = "/api/v1/mall/products/"
LOGIN_PATH = "/api/v1/login/token"


@dataclass(frozen=True)
class FaultEnvironment(BenchEnvironment):
    """The bench's environment with the private services, the bus URL pinned to them, and the timer overrides."""

    extra: tuple[tuple[str, str], ...] = ()

    def django_environ(self, **extra: str) -> dict[str, str]:
        return super().django_environ(**{"GBM_MQ_URL": self.broker_url, **dict(self.extra), **extra})


class SlowReceiver(CallbackReceiver):
    """The mall's receiver; while ``delay_s`` is set it holds each callback that long after recording it."""

    def __init__(self, *, run_id: str) -> None:
        super().__init__(run_id=run_id)
        self.delay_s = 0.0
        self.in_flight = 0
        self._flight_lock = threading.Lock()

    def __enter__(self) -> SlowReceiver:
        super().__enter__()
        assert self._server is not None
        # The worker killed mid-callback leaves a broken pipe: expected here, not worth a traceback on stderr.
        self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        return self

    def record(self, path: str, headers: Message, body: bytes, at: float) -> None:
        super().record(path, headers, body, at)
        delay = self.delay_s
        if delay:
            with self._flight_lock:
                self.in_flight += 1
            time.sleep(delay)
            with self._flight_lock:
                self.in_flight -= 1


@dataclass
class Load:
    """What the malls saw, by phase of the fault (before, during, after) and endpoint: code/HTTP status counts."""

    phase: str = "before"
    outcomes: dict[str, dict[str, Counter]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(Counter)))
    opened: list[str] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0
    server_errors: int = 0

    def record(self, endpoint: str, outcome: str) -> None:
        self.outcomes[self.phase][endpoint][outcome] += 1
        if outcome.endswith("/500"):
            self.server_errors += 1

    def report(self) -> dict[str, Any]:
        return {
            "teams_opened": len(self.opened),
            "teams_completed_seen_by_malls": self.completed,
            "teams_abandoned": self.abandoned,
            "http_500": self.server_errors,
            "outcomes": {p: {e: dict(c) for e, c in by.items()} for p, by in self.outcomes.items()},
        }


class Malls:
    """Closed-loop malls completing teams (3 locks, 3 settlements), each request retried a bounded number of times."""

    def __init__(self, load: Load, *, port: int, run_id: str, fault: str, notify_url: str, args: argparse.Namespace):
        self.load, self.port, self.run_id, self.fault, self.args = load, port, run_id, fault, args
        self.notify = {"notifyType": "HTTP", "notifyUrl": notify_url}
        self.numbers = itertools.count()

    async def exchange(self, connection: HttpConnection, endpoint: str, make: Callable[[], HttpRequest]) -> Any:
        for attempt in range(self.args.attempts):
            if attempt:
                await asyncio.sleep(self.args.retry_pause)
            try:
                response: HttpResponse = await connection.request(make())  # a fresh nonce per attempt
            except TRANSPORT_ERRORS as exc:
                self.load.record(endpoint, f"transport:{type(exc).__name__}")
                continue
            code = envelope_code(response)
            self.load.record(endpoint, f"{code}/{response.status}")
            if code == SUCCESS:
                return response
        return None

    async def mall(self, deadline: float) -> None:
        connection = HttpConnection(self.port, timeout=self.args.request_timeout)
        try:
            while time.monotonic() < deadline:
                await self.team(connection, next(self.numbers))
        finally:
            connection.close()

    async def team(self, connection: HttpConnection, n: int) -> None:
        offer = n % len(DEMO_GOODS)
        tag = f"{self.run_id}{FAULT_TAGS[self.fault]}{n}"
        members = [(f"bench-{tag}-{seat}", f"f{tag}x{seat}") for seat in range(TEAM_SIZE)]
        team_id: str | None = None
        for user_id, out_trade_no in members:

            def make(
                user_id: str = user_id, out_trade_no: str = out_trade_no, team_id: str | None = team_id
            ) -> HttpRequest:
                return lock_request(
                    user_id=user_id, activity_id=DEMO_ACTIVITIES[offer], goods_id=DEMO_GOODS[offer],
                    out_trade_no=out_trade_no, team_id=team_id, notify=self.notify,
                )  # fmt: skip

            response = await self.exchange(connection, "lock" if team_id is None else "join", make)
            if response is None:
                self.load.abandoned += 1
                return
            if team_id is None:
                team_id = str(envelope_data(response)["teamId"])
                self.load.opened.append(team_id)
        for user_id, out_trade_no in members:

            def make_settle(user_id: str = user_id, out_trade_no: str = out_trade_no) -> HttpRequest:
                return settle_request(user_id=user_id, out_trade_no=out_trade_no)

            if await self.exchange(connection, "settlement", make_settle) is None:
                self.load.abandoned += 1
                return
        self.load.completed += 1

    async def trials(self, deadline: float) -> None:
        """Every 0.5 s a trial two ways: the signed channel trial (fresh user) and the built-in mall's product
        page over the token API (``GET /api/v1/mall/products/{goodsId}``, the trial for a logged-in shopper)."""
        connection = HttpConnection(self.port, timeout=self.args.request_timeout)
        try:
            token = await self.token(connection)
            for n in itertools.count():
                if time.monotonic() >= deadline:
                    return
                goods = DEMO_GOODS[n % len(DEMO_GOODS)]
                payload = {"userId": f"bench-{self.run_id}-t{FAULT_TAGS[self.fault]}{n}", "source": DEMO_SOURCE,
                           "channel": DEMO_CHANNEL, "goodsId": goods}  # fmt: skip
                mall = HttpRequest("GET", f"{MALL_PRODUCT_PATH}{goods}", {"Authorization": f"Token {token}"})
                for endpoint, request in (("trial", signed_post(TRIAL_PATH, payload)), ("mall_trial", mall)):
                    try:
                        response = await connection.request(request)
                        self.load.record(endpoint, f"{envelope_code(response)}/{response.status}")
                    except TRANSPORT_ERRORS as exc:
                        self.load.record(endpoint, f"transport:{type(exc).__name__}")
                await asyncio.sleep(0.5)
        finally:
            connection.close()

    async def token(self, connection: HttpConnection) -> str:
        """A demo shopper's API token (before the fault), for the mall's product page."""
        body = json.dumps({"username": "demo1", "password": "demo"}).encode()
        request = HttpRequest("POST", LOGIN_PATH, {"Content-Type": "application/json"}, body)
        with contextlib.suppress(*TRANSPORT_ERRORS, KeyError, TypeError):
            return str(envelope_data(await connection.request(request))["token"])
        return "unavailable"


class Stack:
    """gunicorn (2 gthread workers) and one Celery worker against the fault environment; stopped on every path."""

    def __init__(self, env: FaultEnvironment, options: ServerOptions, name: str) -> None:
        self.env, self.name = env, name
        self.server = GunicornServer(env, options)
        self.worker: CeleryWorker | None = None
        self.worker_logs: list[str] = []

    def start(self) -> None:
        self.server.start()
        self.start_worker()

    def start_worker(self) -> None:
        self.worker = CeleryWorker(self.env, name=f"gbmfaults-{self.name}-{uuid.uuid4().hex[:4]}")
        self.worker.__enter__()

    def kill_worker(self) -> None:
        """SIGKILL the worker's whole process group (main process and pool children) and reap it."""
        worker, self.worker = self.worker, None
        if worker is None:
            return
        pids = worker.pids()
        if pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pids[0], signal.SIGKILL)  # its own group (process_group=0): pgid == pid
        self.worker_logs.append(worker.log_tail(2000))
        worker.stop()

    def logs(self, keep_dir: Path | None) -> tuple[str, str]:
        worker = self.worker.log_tail(2000) if self.worker else ""
        gunicorn = self.server.log_tail(20000)
        worker = "\n".join([*self.worker_logs, worker])
        if keep_dir is not None:
            keep_dir.mkdir(parents=True, exist_ok=True)
            (keep_dir / f"{self.name}-gunicorn.log").write_text(gunicorn)
            (keep_dir / f"{self.name}-worker.log").write_text(worker)
        return gunicorn, worker

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self.server.stop()


def log_messages(text: str, *, top: int = 10) -> dict[str, int]:
    """The most frequent warning/error messages of a JSON log (structlog: ``level`` and ``event``)."""
    counts: Counter = Counter()
    for line in text.splitlines():
        with contextlib.suppress(ValueError, AttributeError):
            record = json.loads(line)
            if record.get("level") in ("warning", "error", "critical", "exception"):
                event = str(record.get("event", ""))
                counts[f"{record['level']}: {event[:160]}"] += 1
    return dict(counts.most_common(top))


def kill_db_connections(env: BenchEnvironment) -> int:
    """KILL every connection whose current database is the fault database (this one excepted)."""
    connection = env.connect_database()
    killed = 0
    try:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID()",
            (env.database_name(),),
        )
        for (connection_id,) in cursor.fetchall():
            with contextlib.suppress(Exception):  # gone meanwhile
                cursor.execute(f"KILL {int(connection_id)}")
                killed += 1
    finally:
        connection.close()
    return killed


def manage(env: FaultEnvironment, *argv: str, timeout_s: float = 60.0) -> str:
    completed = subprocess.run(  # noqa: S603 - this interpreter's manage.py
        [sys.executable, "manage.py", *argv], cwd=REPO_ROOT, env=env.django_environ(), capture_output=True,
        text=True, timeout=timeout_s, check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(argv)} failed: {(completed.stdout + completed.stderr)[-1500:]}")
    return completed.stdout.strip()


class FaultRun:
    """One fault: stack up, load with the fault injected mid-run, drain, checks."""

    def __init__(self, name: str, *, env: FaultEnvironment, redis: PrivateRedis, rabbit: PrivateRabbitMQ | None,
                 receiver: SlowReceiver, run_id: str, args: argparse.Namespace) -> None:  # fmt: skip
        self.name, self.env, self.redis, self.rabbit = name, env, redis, rabbit
        self.receiver, self.run_id, self.args = receiver, run_id, args
        self.load = Load()
        self.events: list[dict[str, Any]] = []
        self.t0 = 0.0
        self.stack: Stack | None = None

    def event(self, what: str, **details: Any) -> None:
        self.events.append({"at_s": round(time.monotonic() - self.t0, 2), "event": what, **details})
        print(f"    [{self.name} +{time.monotonic() - self.t0:5.1f}s] {what} {details or ''}", flush=True)

    # --- the faults: inject() during the load, recover() fault_hold_s later ---------------------------------
    def inject(self) -> None:
        if self.name == "redis":
            self.redis.kill()
            self.event("redis-server SIGKILLed")
        elif self.name == "rabbitmq":
            assert self.rabbit is not None
            self.rabbit.stop_node()
            self.event("RabbitMQ node stopped")
        elif self.name == "db":
            for round_ in range(3):
                self.event("KILLed fault-database connections", killed=kill_db_connections(self.env), round=round_)
                time.sleep(1.0)
        elif self.name == "worker":
            self.receiver.delay_s = 3.0  # callbacks now take 3 s: the kill lands while the worker delivers
            deadline = time.monotonic() + 10
            while self.receiver.in_flight == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            in_flight = self.receiver.in_flight
            assert self.stack is not None
            self.stack.kill_worker()
            self.receiver.delay_s = 0.0
            self.event("Celery worker SIGKILLed", callbacks_in_flight=in_flight)

    def recover(self) -> None:
        if self.name == "redis":
            self.redis.start()
            self.event("redis-server restarted (empty)")
        elif self.name == "rabbitmq":
            assert self.rabbit is not None
            self.rabbit.start()
            self.event("RabbitMQ node started")
        elif self.name == "worker":
            assert self.stack is not None
            self.stack.start_worker()
            self.event("Celery worker restarted")

    async def drive(self, port: int) -> None:
        malls = Malls(self.load, port=port, run_id=self.run_id, fault=self.name,
                      notify_url=self.receiver.url(self.name), args=self.args)  # fmt: skip
        deadline = time.monotonic() + self.args.load_s

        async def fault() -> None:
            await asyncio.sleep(self.args.fault_at_s)
            self.load.phase = "during"
            await asyncio.to_thread(self.inject)
            await asyncio.sleep(self.args.fault_hold_s)
            await asyncio.to_thread(self.recover)
            self.load.phase = "after"

        await asyncio.gather(fault(), malls.trials(deadline), *(malls.mall(deadline) for _ in range(self.args.malls)))

    def drain(self) -> dict[str, Any]:
        """Until every task of the fault's teams is delivered, running the sweep now and then; bounded."""
        start = time.monotonic()
        sweeps: list[str] = []
        last_sweep = start
        while True:
            pending = pending_notify(self.env, self.load.opened)
            if not pending or time.monotonic() - start >= self.args.drain_s:
                break
            if time.monotonic() - last_sweep >= self.args.sweep_every_s:
                sweeps.append(manage(self.env, "shell", "-c", SWEEP))
                last_sweep = time.monotonic()
            time.sleep(0.5)
        waited = round(time.monotonic() - start, 2)
        self.event("drained" if not pending else "drain bound reached", pending=pending, sweeps=len(sweeps))
        time.sleep(0.5)  # time for a late duplicate to show at the receiver
        return {"waited_s": waited, "pending_at_end": pending, "sweeps_run": len(sweeps), "sweep_attempts": sweeps}

    def run(self) -> dict[str, Any]:
        print(f"  fault {self.name}", flush=True)
        self.t0 = time.monotonic()
        self.stack = Stack(self.env, ServerOptions(workers=2), self.name)
        try:
            self.stack.start()
            self.event("gunicorn and worker started", port=self.stack.server.port)
            asyncio.run(self.drive(self.stack.server.port))
            self.event("load stopped", **{k: v for k, v in self.load.report().items() if k != "outcomes"})
            drain = self.drain()
            gunicorn_log, worker_log = self.stack.logs(self.args.keep_logs)
        finally:
            self.stack.stop()
        return self.checks(drain, gunicorn_log, worker_log)

    def checks(self, drain: dict[str, Any], gunicorn_log: str, worker_log: str) -> dict[str, Any]:
        result: dict[str, Any] = {"fault": self.name, "events": self.events, "load": self.load.report(), "drain": drain}
        result["logs"] = {
            # Records the logging pipeline failed to format ("--- Logging error ---" on stderr): lost log lines.
            "gunicorn_logging_errors": gunicorn_log.count("--- Logging error ---"),
            "worker_logging_errors": worker_log.count("--- Logging error ---"),
            "gunicorn_not_enqueued": gunicorn_log.count("not enqueued"),
            "gunicorn_tracebacks": gunicorn_log.count("Traceback"),
            "gunicorn_team_stock_unavailable": gunicorn_log.count("team stock unavailable"),
            "worker_tracebacks": worker_log.count("Traceback"),
            "worker_lost": worker_log.count("WorkerLostError"),
            "gunicorn_messages": log_messages(gunicorn_log),
            "worker_messages": log_messages(worker_log),
        }
        if self.name == "redis":
            result["invariants_before_rebuild"] = check_invariants(self.env, run_id=self.run_id)
            result["stock_before_rebuild"] = check_stock_in_progress(self.env)
            result["rebuild"] = manage(self.env, "rebuild_team_stock")
        result["invariants"] = check_invariants(self.env, run_id=self.run_id)
        result["stock_in_progress"] = check_stock_in_progress(self.env)
        result["stock_of_fault_teams"] = check_stock_in_progress(self.env, self.load.opened)
        result["completion"] = check_completion(self.env)
        result["notify"] = check_notify(
            self.env, self.receiver, self.name, self.load.opened, allow_duplicates=self.name in AT_LEAST_ONCE
        )
        result["expectations"] = self.expectations()
        # Redis is judged on this fault's teams (a mismatch left by an earlier fault stays in the global count).
        # After a Redis restart a *complete* team may legitimately disagree: rebuild_team_stock recomputes
        # in-progress teams only (joins never read a complete team's counter again).
        redis_ok = result["stock_in_progress"]["ok"] and (result["stock_of_fault_teams"]["ok"] or self.name == "redis")
        inv = result["invariants"]
        result["ok"] = bool(
            not inv["oversold_teams"] and not inv["lock_count_mismatches"] and redis_ok
            and result["completion"]["ok"] and result["notify"]["ok"] and drain["pending_at_end"] == 0
            and all(e["ok"] for e in result["expectations"].values())
        )  # fmt: skip
        return result

    def expectations(self) -> dict[str, dict[str, Any]]:
        during = {e: dict(c) for e, c in self.load.outcomes.get("during", {}).items()}
        errors = self.load.server_errors
        # A lost or killed database connection answers 0007/503 "retry" (apps/common/api.py), never a 500.
        out: dict[str, dict[str, Any]] = {"no_http_500": {"ok": errors == 0, "http_500": errors}}
        if self.name == "db":
            retry = {"0000/200", "0007/503"}
            out["db_failures_ask_for_a_retry"] = {
                "ok": all(set(counts) <= retry for counts in during.values()), "during": during
            }  # fmt: skip
        if self.name == "redis":
            # Nonces fall back to the database (apps/channels/nonces.py) and configuration is read from it, so
            # opening a team, settling and the signed trial answer 0000; a join needs the Redis seat script: 0007.
            joins, trials, mall = during.get("join", {}), during.get("trial", {}), during.get("mall_trial", {})
            out["signed_requests_pass_joins_ask_for_a_retry"] = {
                "ok": set(joins) <= {"0000/200", "0007/503"}
                and all(set(during.get(e, {})) <= {"0000/200"} for e in ("lock", "settlement", "trial")),
                "joins_during": joins, "signed_trials_during": trials,
            }  # fmt: skip
            out["mall_trial_answers"] = {"ok": bool(mall) and set(mall) == {"0000/200"}, "mall_trials_during": mall}
        if self.name == "rabbitmq":
            settles = during.get("settlement", {})
            out["settlements_succeed"] = {
                "ok": bool(settles) and set(settles) == {"0000/200"}, "settlements_during": settles
            }  # fmt: skip
        return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--fault", action="append", choices=FAULTS, help="run only these (repeatable)")
    parser.add_argument("--load-s", type=float, default=16.0, help="load per fault (s)")
    parser.add_argument("--fault-at-s", type=float, default=4.0, help="fault injected this long into the load")
    parser.add_argument("--fault-hold-s", type=float, default=4.0, help="service down this long")
    parser.add_argument("--drain-s", type=float, default=60.0, help="bound on waiting for pending work")
    parser.add_argument("--sweep-every-s", type=float, default=4.0, help="outbox sweep period while draining")
    parser.add_argument("--malls", type=int, default=3, help="concurrent malls completing teams")
    parser.add_argument("--attempts", type=int, default=6, help="tries per request (same outTradeNo)")
    parser.add_argument("--retry-pause", type=float, default=0.5, help="pause between tries (s)")
    parser.add_argument("--request-timeout", type=float, default=10.0)
    parser.add_argument("--keep-logs", type=Path, help="copy each fault's gunicorn and worker logs here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    run_id = uuid.uuid4().hex[:6]
    redis, rabbit = PrivateRedis(), PrivateRabbitMQ()
    atexit.register(redis.stop)
    atexit.register(rabbit.stop)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks and atexit
    results: list[dict[str, Any]] = []
    try:
        print(f"faults: private redis-server :{redis.port}, RabbitMQ gbmfaults :{rabbit.port}", flush=True)
        redis.start()
        rabbit.start()
        env = FaultEnvironment(
            database_url=os.environ.get("FAULTS_DATABASE_URL") or DEFAULT_DATABASE_URL,
            redis_url=redis.url,
            broker_url=rabbit.url,
            extra=tuple(SETTINGS_OVERRIDES.items()),
        )
        env.check()
        env.create_database()
        env.load_fixtures()
        print(f"  database {env.database_name()} migrated, demo data loaded ({time.monotonic() - t0:.0f} s)")
        with SlowReceiver(run_id=run_id) as receiver:
            for name in args.fault or FAULTS:
                results.append(FaultRun(name, env=env, redis=redis, rabbit=rabbit, receiver=receiver,
                                        run_id=run_id, args=args).run())  # fmt: skip
    except SetupError as exc:
        print(f"faults: setup failed: {exc}", file=sys.stderr)
        return 2
    finally:
        rabbit.stop()
        redis.stop()
    report = {
        "name": "faults",
        "description": "faults injected into a running stack; invariants and pending work checked afterwards",
        "run_id": run_id,
        "started_at": started.isoformat(timespec="seconds"),
        "wall_s": round(time.monotonic() - t0, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "environment": {**env.describe(), "broker": f"{mask_url(rabbit.url)} (private node, gone after the run)",
                        "redis": f"{redis.url} (private redis-server, no persistence, gone after the run)"},
        "settings_overrides": SETTINGS_OVERRIDES,
        "load": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        | {"fault": args.fault or list(FAULTS)},
        "faults": results,
        "ok": all(r["ok"] for r in results),
    }  # fmt: skip
    paths = write_report(report)
    print(summary(report))
    print("  " + ", ".join(str(p.relative_to(REPO_ROOT)) for p in paths))
    return 0 if report["ok"] else 1


def summary(report: dict[str, Any]) -> str:
    lines = [f"faults ({report['wall_s']} s): {'all checks hold' if report['ok'] else 'CHECKS FAILED'}"]
    for r in report["faults"]:
        inv, n = r["invariants"], r["notify"]
        lines.append(
            f"  {r['fault']:9} ok={r['ok']} teams completed {n['completed_teams']}/{r['load']['teams_opened']},"
            f" oversold {inv['oversold_teams']}, lock mismatches {inv['lock_count_mismatches']},"
            f" complete mismatches {r['completion']['complete_count_mismatches']},"
            f" stock mismatches {r['stock_of_fault_teams']['mismatches']}+{r['stock_in_progress']['mismatches']},"
            f" tasks {n['tasks']} not done {n['not_done']},"
            f" missing {n['missing']}, dup uuids {n['duplicated_uuids']}, 500s {r['load']['http_500']},"
            f" drain {r['drain']['waited_s']} s"
        )
        if r["stock_of_fault_teams"]["mismatches"]:
            lines.append(f"    Redis stock != DB: {r['stock_of_fault_teams']['examples']}")
        for name, exp in r["expectations"].items():
            if not exp["ok"]:
                lines.append(f"    expectation {name} not met: {exp}")
    return "\n".join(lines)
