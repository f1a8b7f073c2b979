"""Read-through cache with downgrade: Redis when it is on and reachable, the database otherwise.

DCC ``cacheOpenSwitch`` = "1" turns the cache off (every read goes to the database). A Redis error
never fails a read: it is logged, counted, and the loader's value is served.
"""

import logging
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from prometheus_client import Counter

logger = logging.getLogger(__name__)

T = TypeVar("T")

CACHE_FALLBACKS = Counter(
    "gbm_cache_fallback_total", "Reads served from the database because the cache failed", ["namespace"]
)
_MISSING = "__gbm_missing__"  # cached negative answer: "no such row"


def cache_is_open() -> bool:
    from apps.dcc.runtime import dcc_get

    return dcc_get("cacheOpenSwitch") == "0"


def cached(key: str, loader: Callable[[], T | None], *, ttl: int, namespace: str) -> T | None:
    """Return the cached value for ``key`` or load, cache and return it (``None`` is cached too)."""
    if not cache_is_open():
        return loader()
    try:
        hit = cache.get(key)
    except Exception as exc:  # any Redis failure: serve from the database
        CACHE_FALLBACKS.labels(namespace).inc()
        logger.warning("cache read failed for %s, reading the database: %s", key, exc)
        return loader()
    if hit is not None:
        return None if hit == _MISSING else hit
    value = loader()
    try:
        cache.set(key, _MISSING if value is None else value, ttl)
    except Exception as exc:
        CACHE_FALLBACKS.labels(namespace).inc()
        logger.warning("cache write failed for %s: %s", key, exc)
    return value


def cache_delete(*keys: str) -> None:
    """Invalidate after a write; a Redis failure here is logged (entries expire by TTL)."""
    try:
        cache.delete_many(list(keys))
    except Exception as exc:
        logger.warning("cache invalidation failed for %s: %s", keys, exc)
