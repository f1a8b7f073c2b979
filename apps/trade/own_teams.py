"""Who may hold a live order in an open team: a Redis mirror of the orders table for the product page.

Every product-page trial shows the user's own open team and keeps it out of the joinable list, which costs one SQL
query (``selectors.own_live_teams``). Most shoppers looking at an offer hold no live order in an open team of that
channel; the mirror lets the trial tell so from Redis, in the round trip that already records the call's nonce and
spends the user's permit (``apps.dcc.ratelimit``), and skip the query. Whoever may hold one is still read from
MariaDB, the record of truth. docs/decisions/022-own-teams-mirror.md.

Keys (a single Redis only: on a Redis Cluster the mirror is neither written nor read, and every trial queries):

* ``gbm:own_teams:{source}/{channel}/{user}`` (a *marker*): this user of this channel may hold a live order in a
  team still open. Set by the lock before its transaction commits (so a trial after the commit sees it), kept at
  least until that team can no longer be open (its validity plus an hour), never removed early: a stale marker
  costs the query, nothing more.
* ``gbm:own_teams:built``: every live order of an open team has its marker. Without it (a new or flushed Redis)
  trials query, and the beat job ``sync-own-teams-mirror`` rebuilds the markers from MariaDB, then sets it.

The job also runs while the mirror is built: it marks the users of live orders created in the last few minutes, so
a marker the lock could not write (Redis briefly unreachable; a flush in the middle of a lock) is back within a
minute. Redis must not evict keys (``maxmemory-policy noeviction``, as nonces and team stock need too).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NamedTuple

from django.db.models import Max
from django.utils import timezone
from redis import Redis
from redis.exceptions import RedisError

from apps.channels.authentication import PendingNonce
from apps.common.redis import get_redis
from apps.common.redis_scripts import RedisScript, nonce_first, redis_is_cluster
from apps.trade.models import LIVE_ORDER_STATUSES, Order, Team

logger = logging.getLogger(__name__)

BUILT_KEY = "gbm:own_teams:built"
_BUILDING_KEY = "gbm:own_teams:building"
SLACK_SECONDS = 3600  # past a team's validity: an operator shortening it later cannot strand a live order
CATCH_UP_SECONDS = 180  # the job's look-back while built: three runs of it
_BATCH = 1000


def own_teams_key(*, source: str, channel: str, user_id: str) -> str:
    return f"gbm:own_teams:{source}/{channel}/{user_id}"


def own_teams_peek_keys(*, source: str, channel: str, user_id: str) -> list[str]:
    """What the trial reads with its permit: whether the mirror is built, then the user's marker."""
    return [BUILT_KEY, own_teams_key(source=source, channel=channel, user_id=user_id)]


def holds_no_open_team(peeked: tuple[bool, ...] | None) -> bool:
    """From ``own_teams_peek_keys``' answer: True only when the mirror is built and the user has no marker."""
    if not peeked:
        return False
    return peeked[0] and not peeked[1]


def marker_ttl_seconds(valid_minutes: int) -> int:
    """A lock's marker outlives any team the lock may write: one opened now, or one opened earlier (shorter)."""
    return valid_minutes * 60 + SLACK_SECONDS


# KEYS[1] a marker; ARGV[1] its TTL in seconds. Keeps the longer of the two TTLs (another team may end later).
MARK_SOURCE = """
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
end
return 1
"""
OWN_TEAMS_MARK = RedisScript("own_teams_mark", MARK_SOURCE)
_NONCE_THEN_MARK = nonce_first("nonce_then_own_teams_mark", MARK_SOURCE)


def mirror_in_use() -> bool:
    """The mirror lives on a single Redis only (module docstring)."""
    return not redis_is_cluster()


class OwnTeamsMarker(NamedTuple):
    key: str
    ttl_seconds: int


def own_teams_marker(*, source: str, channel: str, user_id: str, valid_minutes: int) -> OwnTeamsMarker | None:
    """The marker a lock of this user sets before it commits (None on a cluster: no mirror)."""
    if not mirror_in_use():
        return None
    return OwnTeamsMarker(own_teams_key(source=source, channel=channel, user_id=user_id),
                          marker_ttl_seconds(valid_minutes))  # fmt: skip


def own_teams_mark(marker: OwnTeamsMarker, *, nonce: PendingNonce | None = None) -> None:
    """Set an opening lock's marker, with its signed call's nonce first (one round trip; E0202 for a replay).

    A Redis error is logged, not raised: opening a team does not depend on the mirror, and the job marks the order
    within a minute; the nonce then goes to its own store's fallback (``PendingNonce.record``).
    """
    try:
        if nonce is None:
            OWN_TEAMS_MARK(keys=[marker.key], args=[marker.ttl_seconds])
        else:
            fresh, *_ = _NONCE_THEN_MARK(keys=[nonce.key, marker.key], args=[nonce.ttl_seconds, marker.ttl_seconds])
            nonce.mark_recorded(fresh=bool(fresh))
    except (RedisError, OSError) as exc:
        logger.warning("own-teams mirror: marker not written (the sync job will): %s", exc)
        if nonce is not None and not nonce.recorded:
            nonce.record()


# --- the job: rebuild, then catch up -----------------------------------------------------------------------

# KEYS[1] built, KEYS[2] building token; ARGV[1] the token. The flag is set only if no flush came in between.
_FINISH = RedisScript(
    "own_teams_built",
    """
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], '1')
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
""",
    single_node=True,
)


def own_teams_mirror_sync(*, now: datetime | None = None) -> dict[str, int]:
    """Beat, every minute: rebuild the mirror when it is not built, else mark the users of recent live orders."""
    if not mirror_in_use():
        return {}
    now = now or timezone.now()
    redis = get_redis()
    if redis.exists(BUILT_KEY):
        recent = _open_team_holders(now=now, created_since=now - timedelta(seconds=CATCH_UP_SECONDS))
        return {"caught_up": _mark(redis, recent, now=now)}
    return {"rebuilt": own_teams_mirror_rebuild(now=now)}


def own_teams_mirror_rebuild(*, now: datetime | None = None) -> int:
    """Mark every holder of a live order in an open team, then declare the mirror built, unless Redis lost the
    building token meanwhile (a flush: the next run starts over). The markers written (``manage.py rebuild_redis``)."""
    if not mirror_in_use():
        return 0
    now = now or timezone.now()
    redis = get_redis()
    token = secrets.token_hex(8)  # another rebuild started meanwhile: the later one declares it built
    redis.set(_BUILDING_KEY, token, ex=3600)
    marked = _mark(redis, _open_team_holders(now=now), now=now)
    if _FINISH(keys=[BUILT_KEY, _BUILDING_KEY], args=[token]):
        logger.info("own-teams mirror built: %d markers", marked)
    return marked


def _open_team_holders(
    *, now: datetime, created_since: datetime | None = None
) -> Iterable[tuple[str, str, str, datetime]]:
    """(source, channel, user, the latest end of their open teams) of every live order in a team still open."""
    orders = Order.objects.filter(
        status__in=LIVE_ORDER_STATUSES, team__status=Team.Status.IN_PROGRESS, team__valid_end_time__gt=now
    )
    if created_since is not None:
        orders = orders.filter(create_time__gte=created_since)
    return (
        orders.values_list("source", "channel", "user_id")
        .annotate(ends=Max("team__valid_end_time"))
        .order_by()
        .iterator(chunk_size=_BATCH)
    )


def _mark(redis: Redis, holders: Iterable[tuple[str, str, str, datetime]], *, now: datetime) -> int:
    marked = 0
    batch: list[tuple[str, int]] = []
    for source, channel, user_id, ends in holders:
        ttl = int((ends - now).total_seconds()) + SLACK_SECONDS
        batch.append((own_teams_key(source=source, channel=channel, user_id=user_id), ttl))
        if len(batch) >= _BATCH:
            marked += _mark_batch(redis, batch)
            batch = []
    return marked + (_mark_batch(redis, batch) if batch else 0)


def _mark_batch(redis: Redis, batch: list[tuple[str, int]]) -> int:
    script = OWN_TEAMS_MARK.registered(redis)
    pipe = redis.pipeline(transaction=False)
    for key, ttl in batch:
        script(keys=[key], args=[ttl], client=pipe)
    pipe.execute()
    return len(batch)
