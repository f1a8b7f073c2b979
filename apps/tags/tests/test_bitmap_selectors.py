"""The bit of a user is a documented, stable function; membership reads go through the selectors."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from apps.tags.bitmap import bitmap_add, tag_bitmap_key, user_bit_index
from apps.tags.selectors import crowd_tag_bitmap_exists, crowd_tag_contains, crowd_tag_trading_user_ids
from apps.trade.models import Order
from apps.trade.tests.factories import OrderFactory, TeamFactory


def test_bit_index_is_md5_mod_2_27_and_never_changes():
    assert user_bit_index("xiaofuge") == 62546050  # pinned: changing the hash strands every bitmap
    for user_id in ["liergou", "用户甲", "u" * 64]:
        expected = int(hashlib.md5(user_id.encode()).hexdigest(), 16) % 2**27  # noqa: S324
        assert user_bit_index(user_id) == expected
        assert 0 <= expected < 2**27


def test_contains_and_exists_read_the_bitmap():
    assert not crowd_tag_bitmap_exists(tag_id="T1")
    assert not crowd_tag_contains(tag_id="T1", user_id="alice")
    bitmap_add("T1", ["alice"])
    assert crowd_tag_bitmap_exists(tag_id="T1")
    assert crowd_tag_contains(tag_id="T1", user_id="alice")
    assert not crowd_tag_contains(tag_id="T1", user_id="bob")
    assert tag_bitmap_key("T1") == "gbm:crowd_tag:{T1}"  # hash-tagged: the rebuild's scratch key shares its slot


WINDOW_START = datetime(2025, 1, 1, tzinfo=UTC)
WINDOW_END = datetime(2025, 2, 1, tzinfo=UTC)


def make_trading_history() -> None:
    """alice, carol and frank have >= 2 paid orders in [start, end); the others fall short."""
    team = TeamFactory()
    paid, locked, refunded = Order.Status.PAID, Order.Status.LOCKED, Order.Status.REFUNDED
    inside = WINDOW_START + timedelta(days=3)
    rows = [
        ("alice", paid, inside),
        ("alice", paid, inside + timedelta(days=1)),
        ("bob", paid, inside),
        ("bob", paid, WINDOW_START - timedelta(seconds=1)),  # before the window
        ("carol", paid, WINDOW_START),  # the start is inside
        ("carol", paid, WINDOW_END - timedelta(microseconds=1)),
        ("dave", paid, inside),
        ("dave", paid, WINDOW_END),  # the end is outside
        ("erin", paid, inside),
        ("erin", locked, inside),  # not paid
        ("erin", refunded, inside),  # refunded
        ("frank", paid, inside),
        ("frank", paid, inside),
        ("frank", paid, inside),
        ("gina", locked, None),
    ]
    for n, (user_id, status, paid_at) in enumerate(rows):
        OrderFactory(team=team, user_id=user_id, status=status, out_trade_time=paid_at, biz_id=f"{user_id}_{n}")


@pytest.mark.django_db
def test_trading_users_are_those_with_enough_paid_orders_in_the_window(django_assert_num_queries):
    make_trading_history()
    with django_assert_num_queries(1):
        at_least_two = crowd_tag_trading_user_ids(start=WINDOW_START, end=WINDOW_END, min_paid_orders=2)
    assert at_least_two == ["alice", "carol", "frank"]
    at_least_one = crowd_tag_trading_user_ids(start=WINDOW_START, end=WINDOW_END, min_paid_orders=1)
    assert at_least_one == ["alice", "bob", "carol", "dave", "erin", "frank"]
    assert crowd_tag_trading_user_ids(start=WINDOW_START, end=WINDOW_END, min_paid_orders=3) == ["frank"]
