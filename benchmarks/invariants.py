"""Correctness after a run, read straight from the bench database and Redis (not through the app's code).

Over every team of the bench database (earlier runs' teams too: they must still hold):

* oversold: ``lock_count > target_count``, or more live orders (locked or paid) than ``target_count``;
* lock count: each in-progress or complete team's ``lock_count`` equals its live orders;
* Redis team stock (``apps/trade/team_stock.py``): for each in-progress or complete team that has keys,
  ``occupied - recovered == lock_count - 1`` (the leader's seat is implicit). Failed and
  complete-with-refund teams are left out: a refund of a formed team lowers ``lock_count`` and recovers no
  seat, by design. Keys expire 75 minutes after a team's last join; a team without keys is not compared.

Run once the load has stopped (no lock in flight). Refunds would make Redis lag the database until the
``team_refund`` message is consumed; the bench sends none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from apps.trade.statuses import LIVE_ORDER_STATUSES
from benchmarks.environment import BenchEnvironment

IN_PROGRESS, COMPLETE = 0, 1
_MGET_TEAMS = 500
_EXAMPLES = 5

_TEAMS_SQL = """
SELECT t.team_id, t.status, t.target_count, t.lock_count, COUNT(o.id)
FROM group_buy_order t
LEFT JOIN group_buy_order_list o ON o.team_id = t.team_id AND o.status IN (%s, %s)
GROUP BY t.id, t.team_id, t.status, t.target_count, t.lock_count
"""
# The teams this run's users are in, by size: how far the races filled them.
_RUN_TEAMS_SQL = """
SELECT t.lock_count, COUNT(*) FROM group_buy_order t
WHERE t.team_id IN (SELECT o.team_id FROM group_buy_order_list o WHERE o.user_id LIKE %s)
GROUP BY t.lock_count
"""


def stock_keys(team_id: str) -> list[str]:
    """``occupied`` and ``recovered`` of one team (the literal braces are Redis Cluster's hash tag)."""
    base = f"gbm:team_stock:{{{team_id}}}"
    return [f"{base}:occupied", f"{base}:recovered"]


def check_invariants(env: BenchEnvironment, *, run_id: str) -> dict[str, Any]:
    """The counts of violations (all 0 when correct), how much was checked, and a few examples."""
    connection = env.connect_database()
    try:
        cursor = connection.cursor()
        cursor.execute(_TEAMS_SQL, LIVE_ORDER_STATUSES)
        teams = [
            (str(team_id), int(status), int(target), int(locks), int(live))
            for team_id, status, target, locks, live in cursor.fetchall()
        ]
        cursor.execute(_RUN_TEAMS_SQL, (f"bench-{run_id}-%",))
        run_team_sizes = {str(size): count for size, count in sorted(cursor.fetchall())}
    finally:
        connection.close()

    examples: list[str] = []
    oversold = lock_mismatches = 0
    for team_id, status, target, locks, live in teams:
        if locks > target or live > target:
            oversold += 1
            examples.append(f"team {team_id}: lock_count {locks}, live orders {live}, target {target}")
        if status in (IN_PROGRESS, COMPLETE) and locks != live:
            lock_mismatches += 1
            examples.append(f"team {team_id} (status {status}): lock_count {locks} but {live} live orders")

    redis_checked, redis_mismatches = _check_redis(env, teams, examples)
    statuses = Counter(status for _, status, _, _, _ in teams)
    return {
        "oversold_teams": oversold,
        "lock_count_mismatches": lock_mismatches,
        "redis_mismatches": redis_mismatches,
        "teams_checked": len(teams),
        "teams_by_status": {str(status): count for status, count in sorted(statuses.items())},
        "teams_checked_in_redis": redis_checked,
        "run_teams_by_lock_count": run_team_sizes,
        "examples": examples[:_EXAMPLES],
        "ok": not (oversold or lock_mismatches or redis_mismatches),
    }


def redis_joiners(env: BenchEnvironment, teams: list[tuple[str, int]]) -> Iterator[tuple[str, int, int | None]]:
    """Each (team_id, lock_count) with the seats Redis counts as taken by joiners (occupied - recovered), or None
    when the team has no keys; read with MGET in batches."""
    client = env.connect_redis()
    try:
        for start in range(0, len(teams), _MGET_TEAMS):
            batch = teams[start : start + _MGET_TEAMS]
            values = client.mget([key for team_id, _ in batch for key in stock_keys(team_id)])
            for index, (team_id, locks) in enumerate(batch):
                occupied, recovered = values[2 * index], values[2 * index + 1]
                keyless = occupied is None and recovered is None
                yield team_id, locks, None if keyless else int(occupied or 0) - int(recovered or 0)
    finally:
        client.close()


def _check_redis(
    env: BenchEnvironment, teams: list[tuple[str, int, int, int, int]], examples: list[str]
) -> tuple[int, int]:
    live = [(team_id, locks) for team_id, status, _, locks, _ in teams if status in (IN_PROGRESS, COMPLETE)]
    checked = mismatches = 0
    for team_id, locks, joiners in redis_joiners(env, live):
        if joiners is None:
            continue
        checked += 1
        if joiners != locks - 1:
            mismatches += 1
            examples.append(f"team {team_id}: Redis occupied - recovered = {joiners}, lock_count - 1 = {locks - 1}")
    return checked, mismatches
