"""Reads of crowd tags: membership from the Redis bitmap, candidate users from trading history."""

from datetime import datetime

from django.db.models import Count

from apps.tags.bitmap import bitmap_contains, bitmap_exists
from apps.trade.models import Order


def crowd_tag_contains(*, tag_id: str, user_id: str) -> bool:
    """Whether the user's bit is set in the tag's bitmap (false positives possible, see bitmap.py)."""
    return bitmap_contains(tag_id, user_id)


def crowd_tag_bitmap_exists(*, tag_id: str) -> bool:
    return bitmap_exists(tag_id)


def crowd_tag_trading_user_ids(*, start: datetime, end: datetime, min_paid_orders: int) -> list[str]:
    """Distinct users with at least ``min_paid_orders`` PAID orders paid in ``[start, end)``, sorted.

    One GROUP BY ... HAVING query: the database does the counting.
    """
    return list(
        Order.objects.filter(status=Order.Status.PAID, out_trade_time__gte=start, out_trade_time__lt=end)
        .values("user_id")
        .annotate(paid_orders=Count("pk"))
        .filter(paid_orders__gte=min_paid_orders)
        .order_by("user_id")
        .values_list("user_id", flat=True)
    )
