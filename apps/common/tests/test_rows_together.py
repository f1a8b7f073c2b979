"""``rows_write_together``: several writes as one transaction; on MariaDB one round trip (``BEGIN; ...; COMMIT``).

The same answers on every backend and in every mode (a transaction of its own, or inside ``atomic``): the row
counts, a guarded INSERT skipped when the UPDATE before it matched nothing, every write rolled back on an error.
"""

import contextlib

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from apps.activities.tests.factories import SkuFactory
from apps.common.rows import (
    Query,
    Written,
    insert_statement,
    model_field,
    rows_write_in_transaction,
    rows_write_together,
    update_statement,
)
from apps.trade.models import Order, Team
from apps.trade.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db(transaction=True)


def seat_then_order(team: Team, order_id: str, out_trade_no: str) -> tuple:
    """A join's two writes: take a seat if one is left, then the order only if the seat was taken."""
    goods_id, now = SKUS[team.pk], timezone.now()
    seat = update_statement(
        Team, where={"pk": team.pk, "lock_count__lt": F("target_count")}, lock_count=F("lock_count") + 1,
        update_time=now,
    )  # fmt: skip
    order = insert_statement(
        Order, only_if_previous_matched=True, order_id=order_id, user_id=f"user-{order_id}", team=team.team_id,
        activity=team.activity_id, sku=goods_id, source=team.source,
        channel=team.channel, original_price=team.original_price, deduction_price=team.deduction_price,
        pay_price=team.pay_price, status=Order.Status.LOCKED, out_trade_no=out_trade_no,
        biz_id=f"{team.activity_id}_{order_id}_1", create_time=now, update_time=now,
    )  # fmt: skip
    return seat, order


SKUS: dict[int, str] = {}  # what each team's orders buy


@pytest.fixture
def team() -> Team:
    team = TeamFactory.create(target_count=3, lock_count=2)
    SKUS[team.pk] = SkuFactory.create().goods_id
    return team


def test_the_guarded_insert_runs_only_after_a_matching_update(team):
    assert rows_write_together(*seat_then_order(team, "o1", "OTN-1")).counts == [1, 1]
    assert rows_write_together(*seat_then_order(team, "o2", "OTN-2")).counts == [0, 0]  # full: no seat, no order

    team.refresh_from_db()
    assert team.lock_count == 3
    assert list(Order.objects.values_list("order_id", flat=True)) == ["o1"]


def test_an_error_in_a_later_statement_rolls_the_earlier_ones_back(team):
    rows_write_together(*seat_then_order(team, "o1", "OTN-1"))
    team.lock_count = 1
    team.save(update_fields=["lock_count"])

    with pytest.raises(IntegrityError):
        rows_write_together(*seat_then_order(team, "o2", "OTN-1"))  # the outTradeNo is taken

    team.refresh_from_db()
    assert team.lock_count == 1  # the seat the failed transaction took is back
    assert Order.objects.count() == 1
    assert rows_write_together(*seat_then_order(team, "o3", "OTN-3")).counts == [1, 1]  # the connection is in step


def test_then_runs_in_the_transaction_and_may_roll_it_back(team):
    class Refused(Exception):
        pass

    def refuse(written: Written) -> None:
        assert written.counts == [1, 1]
        raise Refused

    with pytest.raises(Refused):
        rows_write_together(*seat_then_order(team, "o1", "OTN-1"), then=refuse)
    team.refresh_from_db()
    assert (team.lock_count, Order.objects.count()) == (2, 0)


def test_inside_an_atomic_block_the_writes_join_that_transaction(team):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        assert rows_write_together(*seat_then_order(team, "o1", "OTN-1")).counts == [1, 1]
        _ = 1 / 0
    team.refresh_from_db()
    assert (team.lock_count, Order.objects.count()) == (2, 0)


def test_on_mariadb_the_transaction_is_one_round_trip(round_trips, team):
    seat, order = seat_then_order(team, "o1", "OTN-1")
    round_trips.clear()
    assert rows_write_together(seat, order).counts == [1, 1]
    assert len(round_trips) == 1
    assert round_trips[0].startswith(b"BEGIN; UPDATE") and round_trips[0].endswith(b"; COMMIT")
    assert b"ROW_COUNT() > 0" in round_trips[0]
    assert not connection.in_atomic_block and Order.objects.filter(order_id="o1").exists()


def test_on_mariadb_inside_atomic_the_writes_are_one_round_trip_in_a_savepoint(round_trips, team):
    seat, order = seat_then_order(team, "o1", "OTN-1")
    round_trips.clear()
    with transaction.atomic():
        assert rows_write_together(seat, order).counts == [1, 1]
    heads = [sql.split(b" ", 2)[:2] for sql in round_trips]
    assert [heads[0], heads[1][0], heads[2]] == [[b"BEGIN;", b"SAVEPOINT"], b"UPDATE", [b"RELEASE", b"SAVEPOINT"]]
    assert b"; INSERT INTO" in round_trips[1] and not round_trips[1].endswith(b"COMMIT")
    assert Order.objects.filter(order_id="o1").exists()


def test_with_then_on_mariadb_the_begin_rides_with_the_statements(round_trips, team):
    seat, order = seat_then_order(team, "o1", "OTN-1")
    seen: list[Written] = []
    round_trips.clear()
    assert rows_write_together(seat, order, then=seen.append).counts == [1, 1]
    assert [written.counts for written in seen] == [[1, 1]]
    assert len(round_trips) == 1 and round_trips[0].startswith(b"BEGIN; UPDATE")  # then the COMMIT of its own


def test_a_guarded_update_runs_only_after_a_matching_one(team):
    other = TeamFactory.create(target_count=3, lock_count=1)

    def bump(guarded: bool, where: dict) -> object:
        return update_statement(Team, where=where, only_if_previous_matched=guarded, lock_count=F("lock_count") + 1)

    assert rows_write_together(bump(False, {"pk": -1}), bump(True, {"pk": other.pk})).counts == [0, 0]
    with transaction.atomic():
        assert rows_write_together(bump(False, {"pk": team.pk}), bump(True, {"pk": other.pk})).counts == [1, 1]
    other.refresh_from_db()
    assert other.lock_count == 2


def test_a_read_after_the_writes_sees_them_in_the_same_transaction(team):
    seat, order = seat_then_order(team, "o1", "OTN-1")
    read = Query(
        "SELECT lock_count, update_time FROM group_buy_order WHERE id = %s",
        [team.pk],
        (model_field(Team, "lock_count"), model_field(Team, "update_time")),
    )
    for inside_atomic in (False, True):
        with transaction.atomic() if inside_atomic else contextlib.nullcontext():
            written = rows_write_together(seat, order, read=read)
        assert written.counts == ([1, 1] if not inside_atomic else [0, 0])
        ((lock_count, update_time),) = written.rows
        assert lock_count == 3 and update_time.tzinfo is not None  # the seat just taken; converted as the ORM does


def test_writes_in_the_callers_transaction_need_one(team):
    seat, order = seat_then_order(team, "o1", "OTN-1")
    with pytest.raises(TransactionManagementError):
        rows_write_in_transaction(seat, order)
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        assert rows_write_in_transaction(seat, order).counts == [1, 1]
        _ = 1 / 0  # the caller's rollback takes them back: they made no savepoint of their own
    team.refresh_from_db()
    assert (team.lock_count, Order.objects.count()) == (2, 0)
