"""Read-through cache in two levels: process memory, then Redis, then the database.

* Redis (django-redis) is the shared level: a value loaded once serves every process.
* Process memory is the hot level, for reads on every request (activity configuration, SKUs, channel
  credentials, the product page's shared team list): a dict lookup instead of a Redis round trip and an
  unpickle. Each entry lives ``local_ttl`` seconds at most. ``cache_delete`` forgets the keys here, in
  Redis, and broadcasts them on Redis pub/sub (``CACHE_INVALIDATION_CHANNEL``); every process's
  subscriber thread (``apps.dcc.runtime``) forgets them as it hears the message, and forgets *everything*
  whenever it (re)subscribes, since messages sent while it was away are lost. So an admin edit reaches
  every process within milliseconds; ``local_ttl`` only bounds the staleness of writes that bypass the
  signals (``QuerySet.update``) or of a process whose subscriber is cut off and has not noticed yet.
  A value read from Redis while an invalidation was being applied is not kept in memory (generation
  check), so a racing read cannot pin an old value.

Every read that is cached goes through ``cached()`` (activity configuration, joinable teams, statistics,
channel credentials, trusted devices) and every write invalidates with ``cache_delete_on_commit``.

A switch can turn both levels off (every read goes to the database): the app that owns it registers it
with ``cache_switch_register`` at start (``apps.dcc``: DCC ``cacheOpenSwitch`` = "1"), so this module
imports no domain app. A Redis error
never fails a read: it is logged, counted, and the loader's value is served (and not kept in memory:
during an outage no invalidation can arrive, so only Redis-confirmed values are held).
"""

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from functools import lru_cache, partial
from typing import Any, TypeVar, overload
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from prometheus_client import Counter

logger = logging.getLogger(__name__)

T = TypeVar("T")

CACHE_FALLBACKS = Counter(
    "gbm_cache_fallback_total", "Reads served from the database because the cache failed", ["namespace"]
)
_MISSING = "__gbm_missing__"  # cached negative answer: "no such row"
_LOCAL_MAX_ENTRIES = 10_000  # bounds memory if keys are unbounded (junk goods ids); cleared when reached


@lru_cache(maxsize=1024)  # the hot keys name a few channels; a caller's junk only cycles the cache
def key_part(value: str) -> str:
    """``value`` quoted for one part of a cache or Redis key: no ``:`` inside, so two pairs never share a key."""
    return quote(value, safe="")


class _NotLocal:
    def __repr__(self) -> str:
        return "NOT_LOCAL"


NOT_LOCAL: Any = _NotLocal()  # local_peek: "not in this process's memory"


class _LocalCache:
    """key -> (monotonic expiry, value). Reads take no lock: a dict lookup is atomic under the GIL."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, Any]] = {}
        self.generation = 0  # bumped by every invalidation
        self.lock = threading.Lock()

    def get(self, key: str) -> Any:
        entry = self.entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return NOT_LOCAL
        return entry[1]

    def put(self, key: str, value: Any, ttl: float, generation: int) -> None:
        with self.lock:
            if generation != self.generation:
                return  # an invalidation ran while the value was being read: it may be the old one
            if len(self.entries) >= _LOCAL_MAX_ENTRIES:
                self.entries.clear()
            self.entries[key] = (time.monotonic() + ttl, value)

    def forget(self, keys: Iterable[str]) -> None:
        with self.lock:
            self.generation += 1
            for key in keys:
                self.entries.pop(key, None)

    def clear(self) -> None:
        with self.lock:
            self.generation += 1
            self.entries.clear()


_local = _LocalCache()


def _new_lock_in_child() -> None:
    # A fork copies the lock in whatever state another thread held it: the child takes a fresh one
    # (and keeps the entries; its subscriber, started anew, forgets them all when it subscribes).
    _local.lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)


def _always_open() -> bool:
    return True


_switch: Callable[[], bool] = _always_open


def cache_switch_register(is_open: Callable[[], bool]) -> None:
    """Install the switch ``cache_is_open`` asks (one per process; the last registration wins)."""
    global _switch
    _switch = is_open


def cache_is_open() -> bool:
    return _switch()


def local_peek(key: str) -> Any:
    """The value this process holds for ``key`` (``None`` for a cached "missing"), else ``NOT_LOCAL``."""
    if not cache_is_open():
        return NOT_LOCAL
    value = _local.get(key)
    return None if value == _MISSING else value


def local_forget(keys: Iterable[str]) -> None:
    """Forget keys in this process (the subscriber calls it for every invalidation it hears)."""
    _local.forget(keys)


def local_clear() -> None:
    """Forget everything in this process (after a (re)subscribe, and between tests)."""
    _local.clear()


@overload
def cached(
    key: str,
    loader: Callable[[], T],
    *,
    ttl: int,
    namespace: str,
    local_ttl: float = 0,
    missing_ttl: int | None = None,
    switchable: bool = True,
    decode: None = None,
) -> T: ...


@overload
def cached(
    key: str,
    loader: Callable[[], Any],
    *,
    ttl: int,
    namespace: str,
    local_ttl: float = 0,
    missing_ttl: int | None = None,
    switchable: bool = True,
    decode: Callable[[Any], T],
) -> T | None: ...


def cached(
    key: str,
    loader: Callable[[], Any],
    *,
    ttl: int,
    namespace: str,
    local_ttl: float = 0,
    missing_ttl: int | None = None,
    switchable: bool = True,
    decode: Callable[[Any], T] | None = None,
) -> Any:
    """Return the cached value for ``key`` or load, cache and return it (``None`` is cached too).

    ``local_ttl`` > 0 also keeps the value in process memory for that many seconds (see the module doc).
    ``missing_ttl``: how long a ``None`` is kept (default ``ttl``; 0: not cached), so a miss can expire
    sooner than a row. ``switchable=False``: outside ``cacheOpenSwitch`` (reads every request depends on).
    ``decode`` turns the stored form (what ``loader`` returns, e.g. a dict of columns) into the answer on
    every read from Redis; a Redis entry it cannot decode (an older shape) is reloaded and overwritten. Process
    memory keeps the decoded answer (decoding a model instance on every hit cost more than the lookup): one
    object shared by the process's threads, which callers read and never change.
    """
    if missing_ttl is None:
        missing_ttl = ttl

    def answer(value: Any) -> Any:
        return value if value is None or decode is None else decode(value)

    if switchable and not cache_is_open():
        return answer(loader())
    if local_ttl:
        hit = _local.get(key)
        if hit is not NOT_LOCAL:
            return None if hit == _MISSING else hit  # decoded when it was put
        generation = _local.generation
    try:
        hit = cache.get(key)
    except Exception as exc:  # any Redis failure: serve from the database
        CACHE_FALLBACKS.labels(namespace).inc()
        logger.warning("cache read failed for %s, reading the database: %s", key, exc)
        return answer(loader())
    if hit == _MISSING:
        if local_ttl and missing_ttl:
            _local.put(key, _MISSING, min(local_ttl, missing_ttl), generation)
        return None
    if hit is not None:
        try:
            value = answer(hit)
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError):
            logger.warning("cache entry %s of an older shape, reloading", key)
        else:
            if local_ttl:
                _local.put(key, value, local_ttl, generation)
            return value
    stored = loader()
    if stored is None and not missing_ttl:
        return None
    try:
        cache.set(key, _MISSING if stored is None else stored, missing_ttl if stored is None else ttl)
    except Exception as exc:
        CACHE_FALLBACKS.labels(namespace).inc()
        logger.warning("cache write failed for %s: %s", key, exc)
        return answer(stored)
    value = answer(stored)
    if local_ttl:
        if stored is None:
            _local.put(key, _MISSING, min(local_ttl, missing_ttl), generation)
        else:
            _local.put(key, value, local_ttl, generation)
    return value


def cache_delete(*keys: str) -> None:
    """Invalidate after a write, in this process, in Redis and in every other process.

    A Redis failure here is logged: entries expire by their TTLs (Redis, then ``local_ttl``).
    """
    _local.forget(keys)
    try:
        cache.delete_many(list(keys))
    except Exception as exc:
        logger.warning("cache invalidation failed for %s: %s", keys, exc)
    broadcast_invalidation(keys)


def cache_delete_on_commit(*keys: str) -> None:
    """``cache_delete`` once the current transaction commits (at once outside one), the way every write
    invalidates: deleting before the commit would let a concurrent read re-cache the old row meanwhile."""
    transaction.on_commit(partial(cache_delete, *keys))


def broadcast_invalidation(keys: Iterable[str]) -> None:
    """Tell every process to forget ``keys`` (message: the keys, one per line)."""
    from apps.common.redis import get_redis

    try:
        get_redis().publish(settings.CACHE_INVALIDATION_CHANNEL, "\n".join(keys))
    except Exception as exc:
        logger.warning("cache invalidation broadcast failed for %s: %s", list(keys), exc)
