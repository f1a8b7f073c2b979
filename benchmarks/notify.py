"""The notify suite: how long a team's completion takes to reach the mall's HTTP receiver.

The path measured: the settlement that fills a team commits the completion together with its
``trade_settlement`` row of ``notify_task`` (the outbox); after the commit the request enqueues
``deliver_notify_task`` (RabbitMQ); a Celery worker leases the row, POSTs the signed callback with the
task's uuid in ``X-GBM-Task`` and marks the row delivered. (The beat sweep, every 15 s, is the fallback for
a lost enqueue; it does not run here.)

Here: a receiver of the harness on loopback (``receiver.CallbackReceiver``, a thread) answers 200 ``success`` and
records when each callback arrived, its ``X-GBM-Task`` and whether its signature verifies. Virtual malls
(closed loop, ``--notify-concurrency``) each complete teams one after the other over the API: open a team
whose notify config is HTTP to the receiver, two joins, then the three settlements. One Celery worker
(``server.CeleryWorker``, prefork, concurrency 2) delivers. A few warm-up teams come first; their callbacks
arriving is also how the harness knows the worker consumes.

Latency, read after the run (both clocks are this machine's):

* ``from_task_created``: ``arrival - notify_task.create_time``. The row is written inside the settlement's
  transaction shortly before its commit, so this bounds commit → receiver from above (the figure reported).
* ``from_settlement_answer``: ``arrival - time the completing settlement's answer arrived``. The answer leaves
  after the commit and the enqueue, so this bounds it from below; it is negative when the worker delivers
  before the mall has read its answer.

Exactly once (else exit 1): every completed team has one task, whose uuid reached the receiver once, with a
valid signature, and which the database marks delivered; no other callback reached this run's receiver URL.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from benchmarks.client import TRANSPORT_ERRORS, HttpConnection, HttpRequest, HttpResponse
from benchmarks.cpu import CpuProbe, cpu_delta
from benchmarks.environment import BenchEnvironment
from benchmarks.loadgen import LoadResult
from benchmarks.receiver import CallbackReceiver
from benchmarks.report import cpu_figures, distribution_ms
from benchmarks.scenarios import (
    DEMO_ACTIVITIES,
    DEMO_GOODS,
    LOCK_PATH,
    SETTLE_PATH,
    SUCCESS,
    envelope_code,
    envelope_data,
    lock_request,
    settle_request,
)

TEAM_SIZE = 3  # the demo activities' target: one open, two joins
DELIVERED = 1  # notify_task.notify_status
DUPLICATE_GRACE_S = 0.5  # after the last expected callback: time for a duplicate to show
ENDPOINTS = {"lock": f"POST {LOCK_PATH}", "settlement": f"POST {SETTLE_PATH}"}

_TASKS_SQL = """
SELECT uuid, team_id, create_time, notify_status, notify_count
FROM notify_task
WHERE notify_category = 'trade_settlement' AND create_time >= %s
"""


class NotifyFailed(RuntimeError):
    """The worker delivers nothing (or not everything of the warm-up): nothing worth measuring."""


@dataclass(frozen=True)
class Completion:
    team_id: str
    answered_at: float  # time.time() when the completing settlement's answer had arrived


@dataclass
class Phase:
    """What completing teams did: answers by endpoint, the teams opened and completed."""

    name: str
    started_at: datetime
    results: dict[str, LoadResult] = field(default_factory=lambda: {name: LoadResult() for name in ENDPOINTS})
    opened: list[str] = field(default_factory=list)
    completions: list[Completion] = field(default_factory=list)
    failed_teams: int = 0
    wall_s: float = 0.0


class TeamCompleter:
    """Virtual malls completing teams over the API, each one team after the other (closed loop)."""

    def __init__(self, *, run_id: str, port: int, timeout_s: float) -> None:
        self.run_id = run_id
        self.port = port
        self.timeout_s = timeout_s

    def run(self, phase_name: str, *, notify_url: str, teams: int, concurrency: int, duration_s: float) -> Phase:
        # Whole seconds in the database are fine: tasks are looked up from a second before the phase began.
        phase = Phase(phase_name, started_at=datetime.now(UTC))
        asyncio.run(self._drive(phase, notify_url, teams=teams, concurrency=concurrency, duration_s=duration_s))
        return phase

    async def _drive(self, phase: Phase, notify_url: str, *, teams: int, concurrency: int, duration_s: float) -> None:
        numbers = itertools.count()
        deadline = time.monotonic() + duration_s
        notify = {"notifyType": "HTTP", "notifyUrl": notify_url}

        async def mall() -> None:
            connection = HttpConnection(self.port, timeout=self.timeout_s)
            try:
                while time.monotonic() < deadline:
                    n = next(numbers)
                    if n >= teams:
                        return
                    await self._complete_team(connection, phase, n, notify)
            finally:
                connection.close()

        started = time.monotonic()
        await asyncio.gather(*(mall() for _ in range(concurrency)))
        phase.wall_s = time.monotonic() - started
        for result in phase.results.values():
            result.wall_s = phase.wall_s

    async def _complete_team(self, connection: HttpConnection, phase: Phase, n: int, notify: dict[str, str]) -> None:
        offer = n % len(DEMO_GOODS)
        tag = f"{self.run_id}N{phase.name[0]}{n}"
        members = [(f"bench-{tag}-{seat}", f"bench{tag}x{seat}") for seat in range(TEAM_SIZE)]
        team_id: str | None = None
        for user_id, out_trade_no in members:
            request = lock_request(
                user_id=user_id,
                activity_id=DEMO_ACTIVITIES[offer],
                goods_id=DEMO_GOODS[offer],
                out_trade_no=out_trade_no,
                team_id=team_id,
                notify=notify,
            )
            response = await self._exchange(connection, phase.results["lock"], request)
            if response is None:
                phase.failed_teams += 1
                return
            if team_id is None:
                team_id = str(envelope_data(response)["teamId"])
                phase.opened.append(team_id)
        assert team_id is not None
        for user_id, out_trade_no in members:
            request = settle_request(user_id=user_id, out_trade_no=out_trade_no)
            if await self._exchange(connection, phase.results["settlement"], request) is None:
                phase.failed_teams += 1
                return
        phase.completions.append(Completion(team_id, time.time()))

    @staticmethod
    async def _exchange(connection: HttpConnection, result: LoadResult, request: HttpRequest) -> HttpResponse | None:
        """One request, recorded in ``result``; the answer when it succeeded, else None."""
        t0 = time.perf_counter_ns()
        try:
            response = await connection.request(request)
        except TRANSPORT_ERRORS as exc:
            result.outcomes[f"transport:{type(exc).__name__}"] += 1
            return None
        result.latencies_ns.append(time.perf_counter_ns() - t0)
        code = envelope_code(response)
        result.outcomes[code] += 1
        return response if code == SUCCESS else None


def reconcile(env: BenchEnvironment, receiver: CallbackReceiver, phase: Phase) -> tuple[dict[str, Any], dict]:
    """Delivery counts (exactly once?) and latencies of ``phase``, from the database and the receiver's records."""
    connection = env.connect_database()
    try:
        cursor = connection.cursor()
        since = phase.started_at.replace(tzinfo=None, microsecond=0)  # the database keeps UTC, naive
        cursor.execute(_TASKS_SQL, (since,))
        rows = cursor.fetchall()
    finally:
        connection.close()
    opened = set(phase.opened)
    tasks = {_uuid(uuid): (team_id, created, status, count) for uuid, team_id, created, status, count in rows}
    tasks = {uuid: task for uuid, task in tasks.items() if task[0] in opened}
    tasks_by_team = Counter(team_id for team_id, _, _, _ in tasks.values())
    completed = {completion.team_id: completion for completion in phase.completions}

    arrivals = receiver.arrivals(phase.name)
    arrived = Counter(_uuid(arrival.task) for arrival in arrivals)
    first_arrival: dict[str, float] = {}
    for arrival in arrivals:
        first_arrival.setdefault(_uuid(arrival.task), arrival.at)

    from_created, from_answer = [], []
    slowest: list[tuple[float, float, str]] = []  # latency ms, seconds into the phase, team
    for uuid, (team_id, created, _, _) in tasks.items():
        if uuid not in first_arrival:
            continue
        created_at = created.replace(tzinfo=UTC).timestamp()
        from_created.append((first_arrival[uuid] - created_at) * 1000)
        slowest.append((from_created[-1], created_at - phase.started_at.timestamp(), team_id))
        if team_id in completed:
            from_answer.append((first_arrival[uuid] - completed[team_id].answered_at) * 1000)

    delivery = {
        "expected": len(completed),  # teams whose completing settlement answered 0000
        "tasks": len(tasks),
        "teams_without_task": sum(1 for team_id in completed if not tasks_by_team[team_id]),
        "teams_with_several_tasks": sum(1 for count in tasks_by_team.values() if count > 1),
        "delivered": sum(1 for uuid in tasks if arrived[uuid]),
        "delivered_once": sum(1 for uuid in tasks if arrived[uuid] == 1),
        "missing": sum(1 for uuid in tasks if not arrived[uuid]),
        "duplicated": sum(1 for uuid in tasks if arrived[uuid] > 1),
        "unexpected": sum(count for uuid, count in arrived.items() if uuid not in tasks),
        "bad_signatures": sum(1 for arrival in arrivals if not arrival.signature_ok),
        "not_marked_delivered": sum(1 for _, _, status, _ in tasks.values() if status != DELIVERED),
        "attempts_above_one": sum(1 for _, _, _, count in tasks.values() if count > 1),
        "foreign_callbacks": len(receiver.arrivals("foreign")),
    }
    delivery["exactly_once"] = bool(
        delivery["expected"]
        and delivery["tasks"] == delivery["expected"] == delivery["delivered_once"]
        and not any(
            delivery[key]
            for key in (
                "teams_without_task",
                "teams_with_several_tasks",
                "missing",
                "duplicated",
                "unexpected",
                "bad_signatures",
                "not_marked_delivered",
            )
        )
    )
    latency = {
        "from_task_created": distribution_ms(from_created),
        "from_settlement_answer": distribution_ms(from_answer),
        # Where the tail comes from: when in the run the slowest callbacks were written.
        "slowest": [
            {"team_id": team_id, "latency_ms": round(ms, 3), "created_at_s": round(offset, 3)}
            for ms, offset, team_id in sorted(slowest, reverse=True)[:5]
        ],
    }
    return delivery, latency


def _uuid(value: Any) -> str:
    """MariaDB's uuid column and the header alike, as 32 lowercase hex digits."""
    return str(value).replace("-", "").lower()


WARMUP_TEAMS = 4  # one per demo activity
WORKER_START_S = 30.0  # on top of --notify-wait for the warm-up: the worker starts meanwhile


def measure_notify(
    env: BenchEnvironment,
    *,
    port: int,
    receiver: CallbackReceiver,
    probe: CpuProbe,
    run_id: str,
    teams: int,
    concurrency: int,
    duration_s: float,
    wait_s: float,
    timeout_s: float,
) -> dict[str, Any]:
    """Warm up (and wait for the worker), complete teams, wait for their callbacks, reconcile: the report's body."""
    completer = TeamCompleter(run_id=run_id, port=port, timeout_s=timeout_s)
    warm = completer.run(
        "warmup",
        notify_url=receiver.url("warmup"),
        teams=WARMUP_TEAMS,
        concurrency=min(concurrency, WARMUP_TEAMS),
        duration_s=60.0,
    )
    t0 = time.monotonic()
    if not warm.completions:
        raise NotifyFailed(f"no warm-up team completed: {_outcomes(warm)}")
    if not receiver.wait_for("warmup", len(warm.completions), timeout_s=wait_s + WORKER_START_S):
        raise NotifyFailed(
            f"the worker delivered {len(receiver.arrivals('warmup'))} of {len(warm.completions)} warm-up callbacks"
            f" in {wait_s + WORKER_START_S:.0f} s"
        )
    warmup = {"teams": len(warm.completions), "outcomes": _outcomes(warm), "delivered_after_s": _since(t0)}
    print(f"  warm-up: {len(warm.completions)} teams completed, delivered {warmup['delivered_after_s']} s later")

    cpu_before = probe()
    phase = completer.run(
        "measure", notify_url=receiver.url("measure"), teams=teams, concurrency=concurrency, duration_s=duration_s
    )
    print(
        f"  measured: {len(phase.completions)} teams completed in {phase.wall_s:.1f} s"
        f" ({len(phase.completions) / phase.wall_s:.1f}/s), {phase.failed_teams} failed",
        flush=True,
    )
    t0 = time.monotonic()
    all_arrived = receiver.wait_for("measure", len(phase.completions), timeout_s=wait_s)
    waited_s = _since(t0)
    cpu_after = probe()
    time.sleep(DUPLICATE_GRACE_S)
    delivery, latency = reconcile(env, receiver, phase)
    delivery["all_arrived_within_wait"] = all_arrived
    delivery["wait_after_last_settlement_s"] = waited_s
    cpu_s = cpu_delta(cpu_before, cpu_after)
    return {
        "phase": phase,
        "warmup": warmup,
        "delivery": delivery,
        "latency": {
            **latency,
            "reported": "from_task_created",
            "note": "from_task_created bounds commit -> receiver from above, from_settlement_answer from below",
        },
        # From the first request to the last callback, by process (the Celery worker's included), per team.
        "cpu": cpu_figures(cpu_s, count=len(phase.completions), wall_s=phase.wall_s + waited_s, unit="team"),
    }


def _outcomes(phase: Phase) -> dict[str, dict[str, int]]:
    return {name: dict(result.outcomes) for name, result in phase.results.items()}


def _since(t0: float) -> float:
    return round(time.monotonic() - t0, 3)
