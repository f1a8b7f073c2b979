"""Plain-SQL key lookups (apps/common/rows.py) answer what the ORM would."""

from decimal import Decimal

import pytest

from apps.common.rows import row_where, rows_where, values_where
from apps.trade.models import Order
from apps.trade.tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def test_rows_match_the_orm_with_converted_values():
    order = OrderFactory(user_id="u1", out_trade_no="OTN-1")
    OrderFactory(user_id="u2")
    found = row_where(Order, source=order.source, channel=order.channel, out_trade_no="OTN-1")
    assert found == order
    assert isinstance(found.pay_price, Decimal) and found.create_time.tzinfo is not None
    assert row_where(Order, out_trade_no="nope") is None
    assert {o.user_id for o in rows_where(Order, user_id=("u1", "u2"))} == {"u1", "u2"}


def test_values_are_plain_columns_and_refuse_those_needing_a_converter():
    order = OrderFactory(user_id="u1", status=Order.Status.PAID)
    assert values_where(Order, ("team", "out_trade_no"), user_id="u1", status=(0, 1)) == [
        (order.team_id, order.out_trade_no)
    ]
    assert values_where(Order, ("biz_id",), user_id="u1", status=(0,)) == []
    with pytest.raises(TypeError):
        values_where(Order, ("pay_price",), user_id="u1")
