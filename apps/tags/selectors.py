"""Reads of crowd tags: membership from the Redis bitmap, candidate users from trading history.

The trading history belongs to the app that owns orders: it registers its reader here at start
(``trading_history_register``), so tags sit below trade (the trial, under the lock, reads tags).
"""

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import transaction

from apps.common.redis import get_redis
from apps.tags.bitmap import bitmap_contains, bitmap_exists, tag_bitmap_key, user_bit_index
from apps.tags.models import CrowdTagDetail
from apps.tags.signals import crowd_tag_bitmap_missing

logger = logging.getLogger(__name__)
_REBUILD_QUEUED_SECONDS = 60

# (start, end, min_paid_orders) -> the distinct users with that many paid orders in [start, end), sorted.
TradingHistory = Callable[..., list[str]]
_trading_history: TradingHistory | None = None


def trading_history_register(reader: TradingHistory) -> None:
    global _trading_history
    _trading_history = reader


def crowd_tag_contains(*, tag_id: str, user_id: str) -> bool:
    """Whether the user's bit is set in the tag's bitmap (false positives possible, see bitmap.py)."""
    return bitmap_contains(tag_id, user_id)


def crowd_tag_bitmap_exists(*, tag_id: str) -> bool:
    return bitmap_exists(tag_id)


def crowd_tag_membership(*, tag_id: str, user_id: str | None) -> bool | None:
    """Is the user in the tag? ``None`` when the tag has no members yet (it restricts nobody).

    Fast path: one Redis round trip (EXISTS + GETBIT). When the bitmap is missing (Redis restarted
    or flushed) or Redis is down, the exact answer comes from ``crowd_tags_detail`` and a rebuild
    is queued, so a lost bitmap never opens a restricted offer to everyone.
    """
    key = tag_bitmap_key(tag_id)
    redis_up = True
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.exists(key)
        pipe.getbit(key, user_bit_index(user_id or ""))
        exists, bit = pipe.execute()
        if exists:
            return bool(bit) and user_id is not None
    except Exception as exc:  # Redis down: the database answers
        redis_up = False
        logger.warning("crowd tag %s: bitmap unreadable, asking the database: %s", tag_id, exc)
    if not CrowdTagDetail.objects.filter(tag__tag_id=tag_id).exists():
        return None
    if redis_up:
        _queue_rebuild(tag_id)
    return user_id is not None and CrowdTagDetail.objects.filter(tag__tag_id=tag_id, user_id=user_id).exists()


def _queue_rebuild(tag_id: str) -> None:
    """Queue one bitmap rebuild per minute at most, however many trials notice the gap."""
    if get_redis().set(f"{tag_bitmap_key(tag_id)}:rebuild-queued", 1, nx=True, ex=_REBUILD_QUEUED_SECONDS):
        logger.warning("crowd tag %s: members exist but the bitmap is missing; rebuilding", tag_id)
        # tasks.py queues the rebuild when it hears this
        transaction.on_commit(lambda: crowd_tag_bitmap_missing.send(sender=CrowdTagDetail, tag_id=tag_id))


def crowd_tag_trading_user_ids(*, start: datetime, end: datetime, min_paid_orders: int) -> list[str]:
    """Distinct users with at least ``min_paid_orders`` PAID orders paid in ``[start, end)``, sorted."""
    if _trading_history is None:
        raise LookupError("no trading history is registered (apps.trade registers it at start)")
    return _trading_history(start=start, end=end, min_paid_orders=min_paid_orders)
