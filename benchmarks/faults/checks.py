"""What must hold after a fault, read straight from the fault database, Redis and the receiver's records.

* ``benchmarks.invariants.check_invariants`` over every team: no oversell, ``lock_count`` = live orders,
  Redis ``occupied - recovered = lock_count - 1`` for teams with keys;
* ``complete_count`` = paid orders of every in-progress or complete team, and a team is complete exactly
  when ``complete_count`` reached its target;
* the fault's teams: every completed team has exactly one ``trade_settlement`` notify task, every such task
  ended delivered, and the receiver saw each uuid (once, or more under at-least-once: counted apart).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from benchmarks.environment import BenchEnvironment
from benchmarks.invariants import redis_joiners
from benchmarks.receiver import CallbackReceiver

DONE = 1
_EXAMPLES = 5

_COMPLETE_SQL = """
SELECT t.team_id, t.status, t.target_count, t.complete_count, SUM(o.status = 1)
FROM group_buy_order t
LEFT JOIN group_buy_order_list o ON o.team_id = t.team_id
WHERE t.status IN (0, 1)
GROUP BY t.id, t.team_id, t.status, t.target_count, t.complete_count
"""
_IN_PROGRESS_SQL = "SELECT team_id, lock_count FROM group_buy_order WHERE status = 0"
_TEAMS_SQL = "SELECT team_id, lock_count FROM group_buy_order WHERE status IN (0, 1) AND team_id IN ({})"


def check_completion(env: BenchEnvironment) -> dict[str, Any]:
    """``complete_count`` against paid orders, and the status against ``complete_count``, for every team."""
    connection = env.connect_database()
    try:
        cursor = connection.cursor()
        cursor.execute(_COMPLETE_SQL)
        rows = cursor.fetchall()
    finally:
        connection.close()
    mismatches = status_mismatches = 0
    examples: list[str] = []
    for team_id, status, target, complete, paid in rows:
        paid = int(paid or 0)
        if int(complete) != paid:
            mismatches += 1
            examples.append(f"team {team_id}: complete_count {complete}, paid orders {paid}")
        if (int(status) == 1) != (int(complete) >= int(target)):
            status_mismatches += 1
            examples.append(f"team {team_id}: status {status}, complete_count {complete}/{target}")
    return {
        "teams_checked": len(rows),
        "complete_count_mismatches": mismatches,
        "status_mismatches": status_mismatches,
        "examples": examples[:_EXAMPLES],
        "ok": not (mismatches or status_mismatches),
    }


def check_stock_in_progress(env: BenchEnvironment, team_ids: list[str] | None = None) -> dict[str, Any]:
    """Redis team stock against ``lock_count``: of every in-progress team (the ones joins still use), or of
    the in-progress and complete teams among ``team_ids`` (one fault's teams)."""
    connection = env.connect_database()
    try:
        cursor = connection.cursor()
        if team_ids is None:
            cursor.execute(_IN_PROGRESS_SQL)
        else:
            cursor.execute(_TEAMS_SQL.format(", ".join(["%s"] * len(team_ids)) or "''"), team_ids)
        teams = [(str(team_id), int(locks)) for team_id, locks in cursor.fetchall()]
    finally:
        connection.close()
    mismatches = missing = 0
    examples: list[str] = []
    for team_id, locks, joiners in redis_joiners(env, teams):
        if joiners is None:
            missing += locks > 1  # a team with joiners must have its counter back after a rebuild
        elif joiners != locks - 1:
            mismatches += 1
            examples.append(f"team {team_id}: Redis joiners {joiners}, lock_count {locks}")
    return {
        "teams": len(teams),
        "mismatches": mismatches,
        "joined_teams_without_keys": missing,
        "examples": examples[:_EXAMPLES],
        "ok": not (mismatches or missing),
    }


_TEAM_STATUS_SQL = "SELECT team_id, status FROM group_buy_order WHERE team_id IN ({})"
_TASKS_SQL = """
SELECT uuid, team_id, notify_status, notify_count FROM notify_task
WHERE notify_category = 'trade_settlement' AND team_id IN ({})
"""


def _uuid(value: Any) -> str:
    return str(value).replace("-", "").lower()


def notify_state(env: BenchEnvironment, team_ids: list[str]) -> dict[str, Any]:
    """The fault's teams: which completed, their settlement tasks (uuid → team, status, attempts)."""
    if not team_ids:
        return {"completed": set(), "tasks": {}}
    marks = ", ".join(["%s"] * len(team_ids))
    connection = env.connect_database()
    try:
        cursor = connection.cursor()
        cursor.execute(_TEAM_STATUS_SQL.format(marks), team_ids)
        completed = {str(team_id) for team_id, status in cursor.fetchall() if int(status) == 1}
        cursor.execute(_TASKS_SQL.format(marks), team_ids)
        tasks = {_uuid(u): (str(t), int(s), int(c)) for u, t, s, c in cursor.fetchall()}
    finally:
        connection.close()
    return {"completed": completed, "tasks": tasks}


def pending_notify(env: BenchEnvironment, team_ids: list[str]) -> int:
    state = notify_state(env, team_ids)
    return sum(1 for _, status, _ in state["tasks"].values() if status != DONE)


def check_notify(
    env: BenchEnvironment, receiver: CallbackReceiver, phase: str, team_ids: list[str], *, allow_duplicates: bool
) -> dict[str, Any]:
    state = notify_state(env, team_ids)
    completed, tasks = state["completed"], state["tasks"]
    by_team = Counter(team_id for team_id, _, _ in tasks.values())
    arrivals = receiver.arrivals(phase)
    arrived = Counter(_uuid(arrival.task) for arrival in arrivals)
    result = {
        "completed_teams": len(completed),
        "tasks": len(tasks),
        "teams_without_task": sum(1 for team_id in completed if not by_team[team_id]),
        "teams_with_several_tasks": sum(1 for count in by_team.values() if count > 1),
        "tasks_of_incomplete_teams": sum(1 for team_id, _, _ in tasks.values() if team_id not in completed),
        "tasks_by_status": {str(k): v for k, v in sorted(Counter(s for _, s, _ in tasks.values()).items())},
        "tasks_by_attempts": {str(k): v for k, v in sorted(Counter(c for _, _, c in tasks.values()).items())},
        "not_done": sum(1 for _, status, _ in tasks.values() if status != DONE),
        "received": sum(1 for uuid in tasks if arrived[uuid]),
        "missing": sum(1 for uuid in tasks if not arrived[uuid]),
        "received_once": sum(1 for uuid in tasks if arrived[uuid] == 1),
        "duplicated_uuids": sum(1 for uuid in tasks if arrived[uuid] > 1),
        "duplicate_deliveries": sum(count - 1 for uuid, count in arrived.items() if uuid in tasks and count > 1),
        "unexpected": sum(count for uuid, count in arrived.items() if uuid not in tasks),
        "bad_signatures": sum(1 for arrival in arrivals if not arrival.signature_ok),
        "duplicates_allowed": allow_duplicates,
    }
    hard = ("teams_without_task", "teams_with_several_tasks", "tasks_of_incomplete_teams", "not_done", "missing")
    problems = [name for name in (*hard, "unexpected", "bad_signatures") if result[name]]
    if result["duplicated_uuids"] and not allow_duplicates:
        problems.append("duplicated_uuids")
    result["problems"] = problems
    result["ok"] = not problems
    return result
