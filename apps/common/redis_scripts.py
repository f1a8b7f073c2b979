"""Redis Lua scripts: their sources and the one way to run them.

Rules (STYLE.md 5): every key comes in through ``KEYS`` (cluster-safe and visible to readers), a script
never reads the clock or random state (the caller passes the time in), and each script is registered
once per Redis client. ``RedisScript`` wraps redis-py's ``register_script``: the first call on a
client creates the ``Script`` object (no round trip), later calls reuse it; redis-py runs it with
EVALSHA and loads it again by itself when the server has forgotten it (e.g. after a restart).

On a Redis Cluster a script may only touch keys of one hash slot, so callers hash-tag their keys
(``gbm:team_stock:{<team>}:...``). With ``REDIS_CHECK_SCRIPT_SLOTS`` (on in tests, whatever the Redis) every call
checks that its keys share one slot and raises ``CrossSlotKeys`` otherwise: a test that runs a script with keys of
different slots fails on the embedded Redis too, not only on a cluster (docs/decisions/019-redis-cluster.md).

Other apps define their scripts the same way, next to the code that calls them::

    TEAM_LOCK = RedisScript("team_lock", "...lua...")
    TEAM_LOCK(keys=[...], args=[...])
"""

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from redis import Redis
from redis.commands.core import Script
from redis.crc import key_slot

from apps.common.redis import get_redis

# Registered Script objects are kept on the client itself, so they live and die with it (no
# process-wide registry keyed by id() that could outlive a client or leak test clients).
_CLIENT_CACHE_ATTR = "_gbm_registered_scripts"


class CrossSlotKeys(Exception):
    """A script was called with keys of different cluster hash slots (a programming error). Deliberately no
    ``RedisError``: no fail-open path may swallow it."""


def redis_is_cluster() -> bool:
    """Is the project's Redis a cluster (``REDIS_CLUSTER_NODES``)?"""
    return bool(settings.REDIS_CLUSTER_NODES)


def script_key_slots(keys: Sequence[str]) -> set[int]:
    """The cluster hash slots of ``keys`` (hash tags respected)."""
    return {key_slot(key.encode()) for key in keys}


class RedisScript:
    """A Lua script registered lazily, once per Redis client.

    ``single_node``: the script's keys may live in different hash slots, so it runs on a single Redis only (its
    caller takes another path on a cluster, ``redis_is_cluster``); the slot check is skipped, a cluster refuses it.
    """

    def __init__(self, name: str, source: str, *, single_node: bool = False) -> None:
        self.name = name
        self.source = source
        self.single_node = single_node

    def __repr__(self) -> str:
        return f"RedisScript({self.name!r})"

    def registered(self, client: Redis) -> Script:
        cache: dict[RedisScript, Script] = vars(client).setdefault(_CLIENT_CACHE_ATTR, {})
        script = cache.get(self)
        if script is None:
            # A race here registers twice; both Script objects are equal, the last one stays.
            script = cache[self] = client.register_script(self.source)
        return script

    def __call__(self, *, keys: Sequence[str], args: Sequence[Any] = (), client: Redis | None = None) -> Any:
        """Run the script on ``client`` (default: the process' Redis). Redis errors propagate."""
        if self.single_node:
            if redis_is_cluster():
                raise CrossSlotKeys(f"{self!r} runs on a single Redis only, not on a cluster")
        elif settings.REDIS_CHECK_SCRIPT_SLOTS and len(script_key_slots(keys)) > 1:
            raise CrossSlotKeys(f"{self!r} called with keys of different hash slots: {list(keys)}")
        target = client if client is not None else get_redis()
        return self.registered(target)(keys=list(keys), args=list(args))


# --- Rate limiting (apps/dcc/ratelimit.py) -----------------------------------------------------
# GCRA (generic cell rate algorithm): one stored number per user, the theoretical arrival time (TAT)
# of the next request, in microseconds so that integer arithmetic stays exact in Lua's doubles
# (now_ms * 1000 stays below 2^53 until the year 2255). Rate = burst = ``permits`` per second.
#
# KEYS[1] TAT of the user's bucket, KEYS[2] violation counter, KEYS[3] blacklist flag
# ARGV[1] now in ms (from the caller: deterministic), ARGV[2] permits per second (>= 1),
# ARGV[3] violations before the blacklist (0 = never), ARGV[4] violation/blacklist TTL in seconds
# Returns {allowed 1|0, blacklisted 1|0, retry_after_ms}.
RATE_LIMIT_SOURCE = """
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {0, 1, redis.call('PTTL', KEYS[3])}
end
local now = tonumber(ARGV[1]) * 1000
local permits = tonumber(ARGV[2])
local ttl = tonumber(ARGV[4])
local interval = math.floor(1000000 / permits)
local tolerance = interval * permits
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then
  tat = now
end
local new_tat = tat + interval
if new_tat - now <= tolerance then
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
  return {1, 0, 0}
end
local violations = redis.call('INCR', KEYS[2])
if violations == 1 then
  redis.call('EXPIRE', KEYS[2], ttl)
end
local blacklist_after = tonumber(ARGV[3])
if blacklist_after > 0 and violations >= blacklist_after then
  redis.call('SET', KEYS[3], '1', 'EX', ttl)
  redis.call('DEL', KEYS[2])
  return {0, 1, ttl * 1000}
end
return {0, 0, math.ceil((new_tat - now - tolerance) / 1000)}
"""

RATE_LIMIT = RedisScript("rate_limit_gcra", RATE_LIMIT_SOURCE)

# --- A signed call's nonce first, then the handler's own Redis work, in one round trip ----------------------
# ``nonce_first(name, body)``: KEYS[1] the nonce (apps/channels/nonces.py), ARGV[1] its TTL in seconds; the body
# sees the rest of KEYS and ARGV renumbered from 1. A replay returns {0} and the body never runs (it cannot
# spend a permit or take a seat); else {1, the body's values...}. The nonce's hash slot (its channel) is not
# the body's, so such a script runs on a single Redis only: a cluster records the nonce apart
# (``PendingNonce.record``) and runs the body's own script.
_NONCE_FIRST_SOURCE = """local function body(KEYS, ARGV)
{body}
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return {0}
end
local keys, argv = {}, {}
for i = 2, #KEYS do keys[i - 1] = KEYS[i] end
for i = 2, #ARGV do argv[i - 1] = ARGV[i] end
local result = body(keys, argv)
if type(result) ~= 'table' then
  result = {result}
end
table.insert(result, 1, 1)
return result
"""


def nonce_first(name: str, body: str) -> RedisScript:
    """A script that records a signed call's nonce, then runs ``body`` (a script's source) unless it was a replay."""
    return RedisScript(name, _NONCE_FIRST_SOURCE.replace("{body}", body), single_node=True)


# The trial's: the nonce, the user's permit (KEYS[1..3], ARGV as RATE_LIMIT's), then whether each further key
# exists (``peek``: the product page's own-teams mirror, apps/trade/own_teams.py), all in one round trip.
# Returns {1, RATE_LIMIT's three values, 1|0 per peeked key} ({0} for a replay).
RATE_LIMIT_THEN_PEEK_SOURCE = (
    "local function rate_limit(KEYS, ARGV)\n"
    + RATE_LIMIT_SOURCE
    + """end
local verdict = rate_limit({KEYS[1], KEYS[2], KEYS[3]}, ARGV)
for i = 4, #KEYS do
  verdict[#verdict + 1] = redis.call('EXISTS', KEYS[i])
end
return verdict"""
)
NONCE_THEN_RATE_LIMIT = nonce_first("nonce_then_rate_limit", RATE_LIMIT_THEN_PEEK_SOURCE)
