"""The database itself refuses impossible teams and orders (run on MariaDB in CI)."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from apps.trade.tests.factories import OrderFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "counts",
    [
        {"lock_count": 4, "target_count": 3},  # oversold team
        {"complete_count": 2, "lock_count": 1},  # paid more than locked
        {"target_count": 0, "lock_count": 0},
    ],
)
def test_team_seat_counts_are_guarded_by_the_database(counts):
    with pytest.raises(IntegrityError), transaction.atomic():
        TeamFactory(**counts)


def test_team_counter_update_past_target_is_refused():
    team = TeamFactory(lock_count=3, target_count=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        type(team).objects.filter(pk=team.pk).update(lock_count=4)


@pytest.mark.parametrize(
    "prices",
    [
        {"original_price": Decimal("100.00"), "deduction_price": Decimal("20.00"), "pay_price": Decimal("70.00")},
        {"original_price": Decimal("10.00"), "deduction_price": Decimal("20.00"), "pay_price": Decimal("-10.00")},
    ],
)
def test_order_prices_must_add_up_and_stay_non_negative(prices):
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(**prices)


def test_order_out_trade_no_is_unique_per_source_and_channel():
    first = OrderFactory(out_trade_no="SAME-1")
    OrderFactory(out_trade_no="SAME-1", channel="c02", team=first.team)  # other channel: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(out_trade_no="SAME-1", team=first.team)


def test_biz_id_collides_for_a_users_duplicate_take():
    first = OrderFactory(user_id="u1")
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(user_id="u1", team=first.team, biz_id=first.biz_id)


def test_unknown_order_status_is_refused():
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(status=7)
