"""Per-user rate limiting across every process, with a 24 h blacklist for repeat offenders (domain.md 10).
It lives beside the DCC values it reads (switch, rate, blacklist count).

One Redis Lua script (``apps.common.redis_scripts.RATE_LIMIT``, GCRA) decides atomically: blacklisted →
refused without touching the bucket; within rate → allowed; over → refused, the violation counted
(24 h TTL) and, at DCC ``rateLimitBlacklistCount`` violations (0 = never), the user blacklisted for 24 h.
Rate and burst are both DCC ``rateLimitPermitsPerSecond``; ``rateLimiterSwitch`` = "close" turns it off.
The time is passed in from Python (``now_ms``) so the script stays deterministic; the processes' clocks
only need to agree to well under one permit interval (NTP does).

Redis unreachable → **fail open**: the request is allowed, a warning is logged (at most every few
seconds) and ``gbm_rate_limit_fail_open_total`` counted. The limiter protects the service from abusive
clients; refusing (or answering 500 to) every trial while Redis is down would turn a cache outage into a
full outage of the product pages, which is worse than serving a few extra requests.
"""

import logging
import time
from collections.abc import Sequence

from prometheus_client import Counter
from redis.exceptions import RedisError

from apps.channels.authentication import PendingNonce
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.logging import ThrottledWarning
from apps.common.redis_scripts import NONCE_THEN_RATE_LIMIT, RATE_LIMIT, redis_is_cluster
from apps.dcc.runtime import dcc_get

logger = logging.getLogger(__name__)

BLACKLIST_TTL_SECONDS = 24 * 60 * 60
_warn = ThrottledWarning(logger, 10.0)  # every request would log during an outage

RATE_LIMITED = Counter("gbm_rate_limited_total", "Requests refused by the rate limiter", ["scope", "reason"])
RATE_LIMIT_FAIL_OPEN = Counter(
    "gbm_rate_limit_fail_open_total", "Requests allowed unchecked because Redis was unreachable", ["scope"]
)


def now_ms() -> int:
    """The clock handed to the script, in milliseconds (tests replace it)."""
    return time.time_ns() // 1_000_000


def rate_limit_keys(*, user_id: str, scope: str) -> list[str]:
    # One hash tag per (scope, user): the three keys share a cluster slot, as a script requires.
    base = f"gbm:ratelimit:{{{scope}:{user_id}}}"
    return [f"{base}:tat", f"{base}:violations", f"{base}:blacklist"]


def rate_limit_check(
    *, user_id: str, scope: str = "trial", nonce: PendingNonce | None = None, peek: Sequence[str] = ()
) -> tuple[bool, ...] | None:
    """Refuse with 0006 (HTTP 429) when ``user_id`` is over the limit or blacklisted.

    ``peek``: keys whose existence the caller would like to know, read in the same round trip when nonce and permit
    go in one script; the answer is then one bool per key, else None (read them another way).

    ``nonce``: a signed call's nonce not recorded yet (``signed_endpoint(handler_records_nonce=True)``). It is
    recorded first and a replay refused with E0202 before any permit is spent; on a single Redis both go in one
    script, one round trip (``NONCE_THEN_RATE_LIMIT``). A cluster keeps them apart (their keys' hash slots differ),
    and so does a process still copying nonces it recorded in the database during a Redis outage.
    """
    if nonce is not None and nonce.recorded:
        nonce = None
    elif nonce is not None and (redis_is_cluster() or not nonce.script_may_record):
        nonce.record()
        nonce = None
    if dcc_get("rateLimiterSwitch") == "close":
        if nonce is not None:
            nonce.record()
        return None
    keys = rate_limit_keys(user_id=user_id, scope=scope)
    args = [now_ms(), dcc_get("rateLimitPermitsPerSecond"), dcc_get("rateLimitBlacklistCount"), BLACKLIST_TTL_SECONDS]
    peeked: tuple[bool, ...] | None = None
    try:
        if nonce is None:
            allowed, blacklisted, _retry_after_ms = RATE_LIMIT(keys=keys, args=args)
        else:
            fresh, *answer = NONCE_THEN_RATE_LIMIT(keys=[nonce.key, *keys, *peek], args=[nonce.ttl_seconds, *args])
            nonce.mark_recorded(fresh=bool(fresh))
            allowed, blacklisted, _retry_after_ms, *exists = answer
            peeked = tuple(bool(flag) for flag in exists)
    except (RedisError, OSError) as exc:
        if nonce is not None and not nonce.recorded:
            nonce.record()  # the nonce store's own fallback: the database
        _fail_open(scope, exc)
        return None
    if not allowed:
        RATE_LIMITED.labels(scope, "blacklisted" if blacklisted else "rate").inc()
        raise GroupBuyError(ResponseCode.RATE_LIMITED)
    return peeked


def _fail_open(scope: str, exc: Exception) -> None:
    RATE_LIMIT_FAIL_OPEN.labels(scope).inc()
    _warn("rate limiter: Redis unreachable, allowing requests unchecked (%s): %s", scope, exc)
