"""The nonce store of signed channel requests (step 5 of ``apps.channels.authentication``).

``nonce_record`` remembers a (source, channel, nonce) for ``nonce_ttl_seconds()`` in Redis (``SET NX EX``) and
says whether it is new; while Redis is unreachable, in the ``signature_nonce`` table, copied into Redis once it
answers again (here, and by the beat job ``purge_expired_nonces``). Both stores failing raises
``NonceStoreUnavailable``: the caller fails closed. The fallback, its recovery and the gaps it leaves:
docs/decisions/008-replay-protection-survives-a-redis-outage.md.
"""

import functools
import logging
import math
import os
import threading
from contextlib import suppress
from datetime import timedelta

from django.conf import settings
from django.core.signals import setting_changed
from django.db import DatabaseError, IntegrityError, transaction
from django.dispatch import receiver
from django.utils import timezone
from prometheus_client import Counter
from redis.exceptions import RedisError

from apps.channels.models import SignatureNonce
from apps.common.cache import key_part
from apps.common.logging import ThrottledWarning
from apps.common.redis import get_redis

logger = logging.getLogger(__name__)

NONCE_STORE_FALLBACK = Counter(
    "gbm_nonce_store_fallback_total",
    "Nonces checked in the database because Redis was unreachable, by result (recorded, replayed, failed)",
    ["result"],
)
COPY_BATCH_SIZE = 500
PURGE_BATCH_SIZE = 1000
_warn = ThrottledWarning(logger, 10.0)  # every signed request would log during an outage

# A process that recorded nonces in the database must copy them into Redis once Redis answers again.
# Generations, not a flag: a nonce recorded while a copy runs is not covered by that copy.
_state_lock = threading.Lock()
_fallback_generation = 0  # bumped after each nonce this process committed to the database
_copied_generation = 0  # the generation the last complete copy covered


def _new_lock_in_child() -> None:
    global _state_lock
    _state_lock = threading.Lock()  # a fork can copy the lock while another thread holds it


os.register_at_fork(after_in_child=_new_lock_in_child)


class NonceStoreUnavailable(Exception):
    """Neither Redis nor the database could record the nonce."""


def nonce_key(*, source: str, channel: str, nonce: str) -> str:
    return f"gbm:nonce:{key_part(source)}:{key_part(channel)}:{nonce}"


@functools.cache  # read on every signed request; settings change only in tests (below)
def nonce_ttl_seconds() -> int:
    """``SIGNATURE_NONCE_TTL``, but never less than twice the clock skew: a timestamp stays acceptable
    for 2 × skew, and its nonce must be remembered at least that long."""
    return math.ceil(max(settings.SIGNATURE_NONCE_TTL, 2 * settings.SIGNATURE_CLOCK_SKEW).total_seconds())


@receiver(setting_changed)
def _forget_ttl(*, setting: str, **kwargs: object) -> None:
    if setting in {"SIGNATURE_NONCE_TTL", "SIGNATURE_CLOCK_SKEW"}:
        nonce_ttl_seconds.cache_clear()


def nonce_record(*, source: str, channel: str, nonce: str) -> bool:
    """Remember the nonce: True when it is new, False when it was already used (a replay).

    Raises ``NonceStoreUnavailable`` when neither Redis nor the database can tell.
    """
    # Read before the SET: a copy that finished after this line cannot have covered a nonce this SET
    # just accepted, so then this request looks its nonce up in the database itself.
    copy_pending = nonce_copy_pending()
    key = nonce_key(source=source, channel=channel, nonce=nonce)
    try:
        # The command itself, not ``Redis.set``: redis-py 8 inspects the arguments of ``set`` on every call.
        fresh = bool(get_redis().execute_command("SET", key, "1", "NX", "EX", nonce_ttl_seconds()))
    except (RedisError, OSError) as exc:
        return _record_in_database(source=source, channel=channel, nonce=nonce, redis_error=exc)
    if copy_pending:
        return _catch_up(source=source, channel=channel, nonce=nonce, key=key, fresh=fresh)
    return fresh


def nonce_copy_pending() -> bool:
    """Did this process record nonces in the database that Redis may not know yet? Then a nonce Redis calls
    fresh must also be looked up in the database (``nonce_record`` does), so no script may record it alone."""
    return _fallback_generation != _copied_generation


def _record_in_database(*, source: str, channel: str, nonce: str, redis_error: Exception) -> bool:
    global _fallback_generation
    now = timezone.now()
    expires_at = now + timedelta(seconds=nonce_ttl_seconds())
    try:
        try:
            with transaction.atomic():
                SignatureNonce.objects.create(source=source, channel=channel, nonce=nonce, expires_at=expires_at)
            fresh = True
        except IntegrityError:
            taken_over = SignatureNonce.objects.filter(
                source=source, channel=channel, nonce=nonce, expires_at__lte=now
            ).update(expires_at=expires_at, created_at=now)
            fresh = taken_over == 1
    except DatabaseError as exc:
        NONCE_STORE_FALLBACK.labels("failed").inc()
        _warn("nonce store: Redis and the database both failed, refusing signed requests: %s; %s", redis_error, exc)
        raise NonceStoreUnavailable(str(exc)) from exc
    if fresh:
        with _state_lock:
            _fallback_generation += 1
    NONCE_STORE_FALLBACK.labels("recorded" if fresh else "replayed").inc()
    _warn("nonce store: Redis unreachable, recording nonces in the database: %s", redis_error)
    return fresh


def _catch_up(*, source: str, channel: str, nonce: str, key: str, fresh: bool) -> bool:
    """Redis answers again after this process fell back: the database may still know this nonce."""
    if fresh:
        try:
            fresh = not SignatureNonce.objects.filter(
                source=source, channel=channel, nonce=nonce, expires_at__gt=timezone.now()
            ).exists()
        except DatabaseError as exc:
            with suppress(RedisError, OSError):
                get_redis().delete(key)  # undecided, so not recorded: a retry with this nonce stays possible
            _warn("nonce store: the database failed while catching up after a Redis outage: %s", exc)
            raise NonceStoreUnavailable(str(exc)) from exc
    try:
        nonces_copy_to_redis()
    except (RedisError, OSError, DatabaseError) as exc:
        _warn("nonce store: copying the database's nonces into Redis failed, retrying later: %s", exc)
    return fresh


def nonces_copy_to_redis() -> int:
    """Copy every unexpired nonce of the database into Redis (``SET NX``, the remaining TTL); returns how
    many rows were sent. Idempotent. Raises ``RedisError``/``OSError``/``DatabaseError``."""
    global _copied_generation
    generation = _fallback_generation
    now = timezone.now()
    rows = (
        SignatureNonce.objects.filter(expires_at__gt=now)
        .order_by()
        .values_list("source", "channel", "nonce", "expires_at")
    )
    pipe = get_redis().pipeline(transaction=False)
    sent = 0
    for source, channel, nonce, expires_at in rows.iterator(chunk_size=COPY_BATCH_SIZE):
        ttl = max(1, math.ceil((expires_at - now).total_seconds()))
        pipe.set(nonce_key(source=source, channel=channel, nonce=nonce), "1", nx=True, ex=ttl)
        sent += 1
        if sent % COPY_BATCH_SIZE == 0:
            pipe.execute()
    pipe.execute()
    with _state_lock:
        _copied_generation = max(_copied_generation, generation)
    if sent:
        logger.info("nonce store: %d nonces copied from the database into Redis", sent)
    return sent


def nonces_purge_expired(*, batch_size: int = PURGE_BATCH_SIZE) -> int:
    """Delete the expired rows, ``batch_size`` at a time (short statements, short locks); returns how many."""
    now = timezone.now()
    expired = SignatureNonce.objects.filter(expires_at__lte=now)
    deleted = 0
    while ids := list(expired.order_by("expires_at").values_list("pk", flat=True)[:batch_size]):
        # expires_at again: a row taken over (renewed) since the SELECT stays.
        deleted += expired.filter(pk__in=ids).delete()[0]
    return deleted
