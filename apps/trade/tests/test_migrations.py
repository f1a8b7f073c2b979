"""Schema changes keep existing rows working: 0003 moved the take-slot key from ``biz_id`` alone to
(source, channel, biz_id) without rewriting any row."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from apps.common.errors import GroupBuyError
from apps.trade.lock import LockCommand
from apps.trade.models import Order
from apps.trade.services import order_lock, order_refund
from apps.trade.tests.helpers import lock_team

BEFORE = [("trade", "0002_order_paid_at_index")]
AFTER = [("trade", "0003_order_biz_id_per_channel")]


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _migrate_to_latest() -> None:
    """The schema the code of this checkout expects (later migrations too), after the step under test."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_orders_locked_before_the_per_channel_slot_key_still_resolve(offer):
    lock_team(offer, ("demo1", "demo2"))
    try:
        _migrate(BEFORE)  # the old schema, with these rows in it
        _migrate(AFTER)
    finally:
        _migrate_to_latest()
    old = Order.objects.get(source=offer.source, channel=offer.channel, out_trade_no="OTN-demo1")
    assert old.biz_id == f"{offer.activity_id}_demo1_1"
    with pytest.raises(GroupBuyError) as refused:  # the old row still holds demo1's take slot
        order_lock(
            command=LockCommand(user_id="demo1", source=offer.source, channel=offer.channel, goods_id=offer.goods_id,
                                activity_id=offer.activity_id, out_trade_no="OTN-demo1-again")
        )  # fmt: skip
    assert refused.value.code == "E0103"
    with pytest.raises(IntegrityError), transaction.atomic():  # and the new key guards it
        Order.objects.filter(out_trade_no="OTN-demo2").update(biz_id=old.biz_id)
    assert not order_refund(source=offer.source, channel=offer.channel, out_trade_no="OTN-demo1").repeat
