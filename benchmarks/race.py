"""The race suite's scenario: a burst of joins, far more than seats, on one team, through gunicorn.

Outside the timed window one lock opens a team of the bench's race offer (``RACE_ACTIVITY``, 100 seats,
created by ``benchmarks/fixtures.py``). Timed: ``joins`` joins (1,000 by default) of distinct users, sent by
many connections at once (``--race-concurrency``, 128), each connection's next join as soon as its last
one answered, until all are sent. Exactly ``target - 1`` joins may get a seat (the leader holds the first);
every other join must answer E0006 "team already full" (docs/decisions/006-a-full-team-is-e0006.md),
whichever guard refused it: the team check, the Redis seat script or the database's ``lock_count <
target_count`` guard.

After the run, untimed, a few seated users send their join again (same ``outTradeNo``, fresh nonce: the
same order back) and a few refused ones too (E0006 again). ``check`` then reads the database and Redis:
``lock_count`` equals the target and the team's live orders, no user holds two seats, the seated users are
exactly those whose join answered 0000 (and the leader), and Redis counts ``target - 1`` joiners' seats.
Any violation fails the bench (exit 1).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import Any

from benchmarks.client import TRANSPORT_ERRORS, HttpConnection, HttpRequest, HttpResponse
from benchmarks.environment import BenchEnvironment
from benchmarks.invariants import redis_joiners
from benchmarks.scenarios import (
    LOCK_PATH,
    RACE_ACTIVITY,
    RACE_GOODS,
    RACE_TARGET,
    SUCCESS,
    HarnessError,
    SignedScenario,
    envelope_code,
    envelope_data,
    lock_request,
)

FULL = "E0006"
LIVE = (0, 1)  # group_buy_order_list.status: locked, paid
RETRIES = 20  # seated and refused users each, sending their join again after the run


class RaceScenario(SignedScenario):
    """``joins`` distinct users joining one team of ``RACE_TARGET`` seats at once."""

    name = "race"
    path = LOCK_PATH
    expected_codes = frozenset({FULL})

    def __init__(self, *, run_id: str, joins: int) -> None:
        self.run_id = run_id
        self.joins = joins
        self.team_id: str | None = None
        self.leader = f"bench-{run_id}-R0"
        self._numbers = itertools.count(1)
        self._sent = 0
        self.seated: dict[str, str] = {}  # user -> order id, from 0000 answers
        self.refused: dict[str, str] = {}  # user -> code
        self.retries: dict[str, Any] = {}

    @property
    def capacity(self) -> int:
        return self.joins - self._sent if self.team_id else 0

    def replenish(self, port: int, *, need: int | None, timeout_s: float) -> None:
        if self.team_id is None:
            self.team_id = asyncio.run(self._open(port, timeout_s))

    async def _open(self, port: int, timeout_s: float) -> str:
        connection = HttpConnection(port, timeout=timeout_s)
        try:
            response = await connection.request(self._join(self.leader))
        except TRANSPORT_ERRORS as exc:
            raise HarnessError(f"the race's team did not open: {type(exc).__name__} {exc}") from exc
        finally:
            connection.close()
        team_id = envelope_data(response).get("teamId")
        if envelope_code(response) != SUCCESS or not isinstance(team_id, str):
            raise HarnessError(f"the race's team did not open: {response.status} {response.body[:200]!r}")
        return team_id

    def _join(self, user_id: str) -> HttpRequest:
        return lock_request(
            user_id=user_id,
            activity_id=RACE_ACTIVITY,
            goods_id=RACE_GOODS,
            out_trade_no=user_id.replace("-", ""),
            team_id=self.team_id,
            tag=user_id,
        )

    def next_request(self) -> HttpRequest:
        self._sent += 1
        return self._join(f"bench-{self.run_id}-R{next(self._numbers)}")

    def judge(self, request: HttpRequest, response: HttpResponse) -> str:
        code = self.outcome(response)
        if code == SUCCESS:
            self.seated[request.tag] = str(envelope_data(response).get("orderId"))
        else:
            self.refused[request.tag] = code
        return code

    def describe(self) -> dict[str, Any]:
        return {"team_id": self.team_id, "target": RACE_TARGET, "joins": self.joins, "leader": self.leader}

    async def verify(self, connection: HttpConnection) -> dict[str, Any]:
        """Joins sent again: a seated user gets the same order back, a refused one E0006 again."""
        failures = []
        for user_id in sorted(self.seated)[:RETRIES]:
            response = await connection.request(self._join(user_id))
            order_id = str(envelope_data(response).get("orderId"))
            if envelope_code(response) != SUCCESS or order_id != self.seated[user_id]:
                failures.append(f"{user_id} (seated, order {self.seated[user_id]}): {envelope_code(response)}")
        for user_id in sorted(self.refused)[:RETRIES]:
            code = envelope_code(await connection.request(self._join(user_id)))
            if code != FULL:
                failures.append(f"{user_id} (refused): {code} on retry")
        self.retries = {"retried": min(RETRIES, len(self.seated)) + min(RETRIES, len(self.refused))}
        self.retries.update(failures=failures[:5], failure_count=len(failures))
        return self.retries

    def check(self, env: BenchEnvironment) -> dict[str, Any]:
        return check_race(
            env,
            team_id=self.team_id or "",
            joins=self.joins,
            leader=self.leader,
            seated=set(self.seated),
            refused=Counter(self.refused.values()),
            retries=self.retries,
        )


def check_race(
    env: BenchEnvironment,
    *,
    team_id: str,
    joins: int,
    leader: str,
    seated: set[str],
    refused: Counter[str],
    retries: dict[str, Any],
) -> dict[str, Any]:
    """The race's rules (module docstring), from the database and Redis; each violation named."""
    connection = env.connect_database()
    try:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT status, target_count, lock_count, complete_count FROM group_buy_order WHERE team_id = %s",
            (team_id,),
        )
        team = cursor.fetchone()
        cursor.execute(
            "SELECT user_id, COUNT(*) FROM group_buy_order_list WHERE team_id = %s AND status IN (%s, %s)"
            " GROUP BY user_id",
            (team_id, *LIVE),
        )
        seats_by_user = {str(user_id): int(count) for user_id, count in cursor.fetchall()}
    finally:
        connection.close()
    if team is None:
        return {"ok": False, "violations": [f"team {team_id!r} not found"]}
    _status, target, lock_count, _complete = (int(value) for value in team)
    live = sum(seats_by_user.values())
    redis_seats = next(redis_joiners(env, [(team_id, lock_count)]))[2]
    expected_seated = min(target, joins + 1)

    violations = []
    if lock_count > target or live > target:
        violations.append(f"oversold: lock_count {lock_count}, {live} live orders, target {target}")
    if lock_count != live:
        violations.append(f"lock_count {lock_count} but {live} live orders")
    if lock_count != expected_seated:
        violations.append(f"{lock_count} seated, expected {expected_seated}")
    if any(count > 1 for count in seats_by_user.values()):
        violations.append(f"users with two seats: {[u for u, c in seats_by_user.items() if c > 1][:5]}")
    if set(seats_by_user) != seated | {leader}:
        violations.append(
            f"seats disagree with the answers: {len(set(seats_by_user) - seated - {leader})} seated without a 0000,"
            f" {len(seated - set(seats_by_user))} answered 0000 without a seat"
        )
    if redis_seats is not None and redis_seats != lock_count - 1:
        violations.append(f"Redis counts {redis_seats} joiners' seats, lock_count - 1 = {lock_count - 1}")
    other_codes = {code: count for code, count in refused.items() if code != FULL}
    if other_codes:
        violations.append(f"refusals other than {FULL}: {other_codes}")
    if len(seated) + sum(refused.values()) != joins:
        violations.append(f"{len(seated)} seated + {sum(refused.values())} refused answers for {joins} joins")
    if retries.get("failure_count"):
        violations.append(f"retries answered differently: {retries['failures']}")
    return {
        "team_id": team_id,
        "target": target,
        "joins": joins,
        "seated": lock_count,
        "joins_seated": len(seated),
        "refused": dict(refused),
        "live_orders": live,
        "redis_joiner_seats": redis_seats,
        "oversold": max(0, max(lock_count, live) - target),
        "violations": violations,
        "ok": not violations,
    }
