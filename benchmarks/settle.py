"""The settle suite's scenario: a mall's payment report (``settlement_market_pay_order``) for locked orders.

Outside the timed window (before the warm-up and before each round, as many as the round will need, from the
last measured rate) teams of the four demo activities (target 3) are opened and filled over the signed lock
API, their notify config HTTP to a closed loopback port: the callbacks are written (the outbox row) and
enqueued, but no worker delivers them during the bench, and the suite purges its queue afterwards.

Timed: one signed settlement per prepared order, ordered in blocks of teams (every team's first member,
then every second, then every third) so the requests in flight belong to different teams, as payments of
different shoppers do. Each team completes on its third settlement: order paid, team counted, team
complete and its one ``trade_settlement`` notify task, in that request's transaction.

After the run, untimed: retries. A sample of settled orders is reported again with fresh nonces (each must
answer 0000 with the first answer's data), and the orders of a few fresh teams are each settled twice at
once. Then ``check`` reads the database: every order answered 0000 is paid, no order is paid without such
an answer, each team's ``complete_count`` equals its paid orders (a double settlement would count twice),
a team is complete exactly when all its seats are paid, and each complete team has exactly one
``trade_settlement`` task (none for the others).
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from benchmarks.client import TRANSPORT_ERRORS, HttpConnection, HttpRequest, HttpResponse
from benchmarks.environment import BenchEnvironment
from benchmarks.scenarios import (
    DEMO_ACTIVITIES,
    DEMO_GOODS,
    SETTLE_PATH,
    SUCCESS,
    SignedScenario,
    envelope_code,
    envelope_data,
    lock_request,
    settle_request,
)

TEAM_SIZE = 3  # the demo activities' target
BLOCK_TEAMS = 32  # teams interleaved per block of settlements (above the connections in flight)
PREPARE_CONCURRENCY = 16
FIRST_BATCH_ORDERS = 600  # before the warm-up, when no rate is known yet
REPLAYS = 60  # settled orders reported again after the run
TWIN_TEAMS = 6  # fresh teams whose every order is settled twice at once
# Nobody listens there: the outbox rows are written and enqueued, never delivered during the bench.
CLOSED_NOTIFY = {"notifyType": "HTTP", "notifyUrl": "http://127.0.0.1:9/bench-settle"}
PAID, COMPLETE = 1, 1  # group_buy_order_list.status, group_buy_order.status


@dataclass(frozen=True)
class PreparedOrder:
    user_id: str
    out_trade_no: str


class SettleScenario(SignedScenario):
    """Signed settlements of orders locked beforehand; the third settlement of a team completes it."""

    name = "settle"
    path = SETTLE_PATH

    def __init__(self, *, run_id: str) -> None:
        self.run_id = run_id
        self._numbers = itertools.count()
        self._pool: list[PreparedOrder] = []
        self._next = 0
        self.teams_prepared = 0
        self.prepare_failures: Counter[str] = Counter()
        self.answers: dict[str, dict[str, Any]] = {}  # out_trade_no -> data of its 0000 answer
        self.sent: set[str] = set()
        self.retries: dict[str, Any] = {}

    @property
    def capacity(self) -> int:
        return len(self._pool) - self._next

    def replenish(self, port: int, *, need: int | None, timeout_s: float) -> None:
        missing = (FIRST_BATCH_ORDERS if need is None else need) - self.capacity
        if missing <= 0:
            return
        blocks = math.ceil(missing / (TEAM_SIZE * BLOCK_TEAMS))
        teams = asyncio.run(self._lock_teams(port, blocks * BLOCK_TEAMS, timeout_s=timeout_s))
        for start in range(0, len(teams), BLOCK_TEAMS):
            block = teams[start : start + BLOCK_TEAMS]
            self._pool += [team[seat] for seat in range(TEAM_SIZE) for team in block]

    async def _lock_teams(self, port: int, count: int, *, timeout_s: float) -> list[list[PreparedOrder]]:
        """``count`` full teams (open, then joins), locked over the API by a few connections at once."""
        numbers = iter(range(count))
        teams: list[list[PreparedOrder]] = []

        async def locker() -> None:
            connection = HttpConnection(port, timeout=timeout_s)
            try:
                for _ in numbers:
                    team = await self._lock_team(connection)
                    if team is not None:
                        teams.append(team)
            finally:
                connection.close()

        await asyncio.gather(*(locker() for _ in range(PREPARE_CONCURRENCY)))
        self.teams_prepared += len(teams)
        return teams

    async def _lock_team(self, connection: HttpConnection) -> list[PreparedOrder] | None:
        n = next(self._numbers)
        offer = n % len(DEMO_GOODS)
        members = [
            PreparedOrder(f"bench-{self.run_id}-S{n}x{seat}", f"bench{self.run_id}S{n}x{seat}")
            for seat in range(TEAM_SIZE)
        ]
        team_id = None
        for member in members:
            request = lock_request(
                user_id=member.user_id,
                activity_id=DEMO_ACTIVITIES[offer],
                goods_id=DEMO_GOODS[offer],
                out_trade_no=member.out_trade_no,
                team_id=team_id,
                notify=CLOSED_NOTIFY,
            )
            try:
                response = await connection.request(request)
            except TRANSPORT_ERRORS as exc:
                self.prepare_failures[f"transport:{type(exc).__name__}"] += 1
                return None
            code = envelope_code(response)
            if code != SUCCESS:
                self.prepare_failures[code] += 1
                return None  # a partly filled team stays locked and unsettled: the checks expect that
            team_id = team_id or envelope_data(response).get("teamId")
        return members

    def next_request(self) -> HttpRequest:
        order = self._pool[self._next]
        self._next += 1
        self.sent.add(order.out_trade_no)
        return settle_request(user_id=order.user_id, out_trade_no=order.out_trade_no, tag=order.out_trade_no)

    def judge(self, request: HttpRequest, response: HttpResponse) -> str:
        code = self.outcome(response)
        if code == SUCCESS:
            self.answers[request.tag] = envelope_data(response)
        return code

    def describe(self) -> dict[str, Any]:
        return {
            "team_size": TEAM_SIZE,
            "teams_prepared": self.teams_prepared,
            "orders_prepared": len(self._pool),
            "orders_settled_with_warmup": len(self.answers),
            "prepare_failures": dict(self.prepare_failures),
            "notify": CLOSED_NOTIFY,
        }

    async def verify(self, connection: HttpConnection) -> dict[str, Any]:
        """Retries, untimed: replays of settled orders, and orders of fresh teams settled twice at once."""
        settled = sorted(self.answers)
        step = max(1, len(settled) // REPLAYS)
        replayed = settled[::step][:REPLAYS]
        by_otn = {order.out_trade_no: order for order in self._pool}
        replay_mismatches = []
        for out_trade_no in replayed:
            order = by_otn[out_trade_no]
            response = await connection.request(settle_request(user_id=order.user_id, out_trade_no=out_trade_no))
            if envelope_code(response) != SUCCESS or envelope_data(response) != self.answers[out_trade_no]:
                replay_mismatches.append(f"{out_trade_no}: {envelope_code(response)} {envelope_data(response)}")

        twins = await self._lock_teams(connection.port, TWIN_TEAMS, timeout_s=connection.timeout)
        other = HttpConnection(connection.port, timeout=connection.timeout)
        twin_mismatches = []
        try:
            for order in (member for team in twins for member in team):
                self.sent.add(order.out_trade_no)
                pair = [settle_request(user_id=order.user_id, out_trade_no=order.out_trade_no) for _ in range(2)]
                first, second = await asyncio.gather(connection.request(pair[0]), other.request(pair[1]))
                answers = [(envelope_code(first), envelope_data(first)), (envelope_code(second), envelope_data(second))]
                if answers[0][0] == SUCCESS:
                    self.answers[order.out_trade_no] = answers[0][1]
                if answers[0] != answers[1] or answers[0][0] != SUCCESS:
                    twin_mismatches.append(f"{order.out_trade_no}: {answers}")
        finally:
            other.close()
        self.retries = {
            "replayed": len(replayed),
            "replay_mismatches": replay_mismatches[:5],
            "replay_mismatch_count": len(replay_mismatches),
            "twin_teams": len(twins),
            "twin_orders": TEAM_SIZE * len(twins),
            "twin_mismatches": twin_mismatches[:5],
            "twin_mismatch_count": len(twin_mismatches),
        }
        return self.retries

    def check(self, env: BenchEnvironment) -> dict[str, Any]:
        return check_settlements(
            env,
            user_prefix=f"bench-{self.run_id}-S",
            answered=set(self.answers),
            sent=self.sent,
            retries=self.retries,
        )


_ORDERS_SQL = """
SELECT o.out_trade_no, o.status, t.team_id, t.status, t.target_count, t.complete_count
FROM group_buy_order_list o JOIN group_buy_order t ON t.team_id = o.team_id
WHERE o.user_id LIKE %s
"""
_TASKS_SQL = """
SELECT n.team_id, COUNT(*) FROM notify_task n
WHERE n.notify_category = 'trade_settlement'
  AND n.team_id IN (SELECT o.team_id FROM group_buy_order_list o WHERE o.user_id LIKE %s)
GROUP BY n.team_id
"""


def check_settlements(
    env: BenchEnvironment, *, user_prefix: str, answered: set[str], sent: set[str], retries: dict[str, Any]
) -> dict[str, Any]:
    """The settle suite's rules over its own orders and teams (module docstring); counts of violations."""
    connection = env.connect_database()
    try:
        cursor = connection.cursor()
        cursor.execute(_ORDERS_SQL, (f"{user_prefix}%",))
        rows = cursor.fetchall()
        cursor.execute(_TASKS_SQL, (f"{user_prefix}%",))
        tasks = {str(team_id): int(count) for team_id, count in cursor.fetchall()}
    finally:
        connection.close()

    examples: list[str] = []
    answered_not_paid = paid_not_answered = 0
    teams: dict[str, tuple[int, int, int]] = {}  # team_id -> (status, target, complete_count)
    paid_by_team: Counter[str] = Counter()
    for out_trade_no, status, team_id, team_status, target, complete_count in rows:
        team_id = str(team_id)
        teams[team_id] = (int(team_status), int(target), int(complete_count))
        paid = int(status) == PAID
        paid_by_team[team_id] += paid
        if out_trade_no in answered and not paid:
            answered_not_paid += 1
            examples.append(f"order {out_trade_no}: answered 0000, status {status}")
        if paid and out_trade_no not in sent:
            paid_not_answered += 1
            examples.append(f"order {out_trade_no}: paid, but no settlement was sent")

    count_mismatches = completion_mismatches = task_mismatches = 0
    for team_id, (status, target, complete_count) in teams.items():
        paid = paid_by_team[team_id]
        if complete_count != paid:
            count_mismatches += 1
            examples.append(f"team {team_id}: complete_count {complete_count}, {paid} paid orders")
        if (status == COMPLETE) != (paid == target):
            completion_mismatches += 1
            examples.append(f"team {team_id}: status {status} with {paid} of {target} seats paid")
        expected_tasks = 1 if status == COMPLETE else 0
        if tasks.get(team_id, 0) != expected_tasks:
            task_mismatches += 1
            examples.append(f"team {team_id} (status {status}): {tasks.get(team_id, 0)} trade_settlement tasks")
    retry_failures = retries.get("replay_mismatch_count", 0) + retries.get("twin_mismatch_count", 0)
    complete = sum(1 for status, _, _ in teams.values() if status == COMPLETE)
    return {
        "orders": len(rows),
        "orders_answered_settled": len(answered),
        "orders_paid": sum(paid_by_team.values()),
        "teams": len(teams),
        "teams_complete": complete,
        "outbox_rows": sum(tasks.values()),
        "answered_not_paid": answered_not_paid,
        "paid_not_answered": paid_not_answered,
        "complete_count_mismatches": count_mismatches,
        "completion_mismatches": completion_mismatches,
        "outbox_mismatches": task_mismatches,
        "retry_failures": retry_failures,
        "examples": examples[:5],
        "ok": bool(rows)
        and not (
            answered_not_paid
            or paid_not_answered
            or count_mismatches
            or completion_mismatches
            or task_mismatches
            or retry_failures
        ),
    }
