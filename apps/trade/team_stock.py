"""Team stock in Redis: lock-free seat occupation for joiners, with recovery.

Per team (all keys share one hash tag, so a script may touch them together):

* ``occupied`` — seats taken by joiners so far (the leader's seat is implicit);
* ``recovered`` — seats given back by refunds of unformed teams (issue: refunds), each once;
* ``seat:{out_trade_no}`` — the marker of one order's seat, so a retry of the same order never
  takes a second seat.

A joiner may take a seat while ``occupied < target - 1 + recovered``. The counters only grow
(a refund raises ``recovered`` rather than lowering ``occupied``), so there is no read-modify-write
race to lose; the only decrement is giving back a seat whose order never got written.

Redis is a cache of the database: ``team_stock_rebuild`` recomputes it from ``lock_count``, and
the database's ``lock_count < target_count`` guard alone already makes oversell impossible.
Every key expires ``valid_time + 60`` minutes after the team opened.
"""

from enum import IntEnum

from prometheus_client import Histogram

from apps.channels.authentication import PendingNonce
from apps.common.redis_scripts import RedisScript, nonce_first
from apps.trade.own_teams import MARK_SOURCE, OwnTeamsMarker

SEAT_SCRIPT_SECONDS = Histogram(
    "gbm_team_seat_script_seconds",
    "Latency of the Redis team-seat Lua scripts",
    ["script"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)


class Occupation(IntEnum):
    FULL = 0
    TAKEN = 1
    DUPLICATE = 2  # this order already holds a seat (a retry)


def _keys(team_id: str, out_trade_no: str = "") -> list[str]:
    base = f"gbm:team_stock:{{{team_id}}}"
    return [f"{base}:occupied", f"{base}:recovered", f"{base}:seat:{out_trade_no}"]


def _recovery_marker(team_id: str, order_id: str) -> str:
    return f"gbm:team_stock:{{{team_id}}}:recovered:{order_id}"


# KEYS: occupied, recovered, seat marker. ARGV: joiner capacity (target - 1), TTL seconds.
_OCCUPY_SOURCE = """
if redis.call('EXISTS', KEYS[3]) == 1 then
  return 2
end
local capacity = tonumber(ARGV[1]) + tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(redis.call('GET', KEYS[1]) or '0') >= capacity then
  return 0
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[3], '1', 'EX', ARGV[2])
return 1
"""
_OCCUPY = RedisScript("team_seat_occupy", _OCCUPY_SOURCE)

# On a single Redis: the seat, then (a seat held) the joiner's own-teams marker (KEYS[4], ARGV[3];
# apps/trade/own_teams.py) in one script; with the signed call's nonce first, too (``nonce_first``).
_OCCUPY_AND_MARK_SOURCE = f"""local function occupy(KEYS, ARGV)
{_OCCUPY_SOURCE}end
local function mark(KEYS, ARGV)
{MARK_SOURCE}end
local seat = occupy(KEYS, ARGV)
if seat ~= 0 then
  mark({{KEYS[4]}}, {{ARGV[3]}})
end
return seat"""
_OCCUPY_AND_MARK = RedisScript("team_seat_occupy_and_mark", _OCCUPY_AND_MARK_SOURCE, single_node=True)
_NONCE_THEN_OCCUPY_AND_MARK = nonce_first("nonce_then_team_seat_occupy_and_mark", _OCCUPY_AND_MARK_SOURCE)

# Give back a seat whose order was never written. KEYS: occupied, recovered, seat marker.
_RELEASE = RedisScript(
    "team_seat_release",
    """
if redis.call('DEL', KEYS[3]) == 1 and tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
  redis.call('DECR', KEYS[1])
  return 1
end
return 0
""",
)

# Recover one seat per refunded order, once. KEYS: recovered, the order's recovery marker, its seat marker.
_RECOVER = RedisScript(
    "team_seat_recover",
    """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[3])
  return 1
end
return 0
""",
)

# Set both counters and the markers of the live orders. KEYS: occupied, recovered, then markers.
_REBUILD = RedisScript(
    "team_stock_rebuild",
    """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], '1', 'EX', ARGV[3])
end
return #KEYS - 2
""",
)


def _ttl_seconds(valid_minutes: int) -> int:
    return (valid_minutes + 60) * 60


def team_seat_occupy(
    *,
    team_id: str,
    out_trade_no: str,
    target: int,
    valid_minutes: int,
    marker: OwnTeamsMarker | None = None,
    nonce: PendingNonce | None = None,
) -> Occupation:
    """Take one joiner seat for this order. Redis errors propagate (the caller refuses the lock).

    ``marker``: the joiner's own-teams marker, set with a seat held (a single Redis only). ``nonce`` (with a
    marker): the signed call's, recorded first in the same script; a replay raises E0202 and takes no seat.
    """
    keys, args = _keys(team_id, out_trade_no), [target - 1, _ttl_seconds(valid_minutes)]
    with SEAT_SCRIPT_SECONDS.labels("occupy").time():
        if marker is None:
            result = _OCCUPY(keys=keys, args=args)
        elif nonce is None:
            result = _OCCUPY_AND_MARK(keys=[*keys, marker.key], args=[*args, marker.ttl_seconds])
        else:
            fresh, *seat = _NONCE_THEN_OCCUPY_AND_MARK(
                keys=[nonce.key, *keys, marker.key], args=[nonce.ttl_seconds, *args, marker.ttl_seconds]
            )
            nonce.mark_recorded(fresh=bool(fresh))
            result = seat[0]
    return Occupation(int(result))


def team_seat_release(*, team_id: str, out_trade_no: str) -> bool:
    """Give the seat back after a failure between occupation and commit."""
    with SEAT_SCRIPT_SECONDS.labels("release").time():
        return bool(_RELEASE(keys=_keys(team_id, out_trade_no)))


def team_seat_recover(*, team_id: str, order_id: str, out_trade_no: str, valid_minutes: int) -> bool:
    """A refunded order's seat goes back to the team (once per order, however often it is asked)."""
    keys = [_keys(team_id)[1], _recovery_marker(team_id, order_id), _keys(team_id, out_trade_no)[2]]
    with SEAT_SCRIPT_SECONDS.labels("recover").time():
        return bool(_RECOVER(keys=keys, args=[_ttl_seconds(valid_minutes)]))


def team_stock_rebuild_one(*, team_id: str, lock_count: int, live_out_trade_nos: list[str], valid_minutes: int) -> None:
    """Counters such that ``occupied - recovered == lock_count - 1``. A team whose every member left is closed
    (``apps.trade.refund``) and never rebuilt; an in-progress row with lock_count 0 (from before that rule)
    gets one recovered seat so the counters stay consistent."""
    keys = _keys(team_id)[:2] + [_keys(team_id, no)[2] for no in live_out_trade_nos]
    occupied, recovered = max(lock_count - 1, 0), max(1 - lock_count, 0)
    _REBUILD(keys=keys, args=[occupied, recovered, _ttl_seconds(valid_minutes)])
