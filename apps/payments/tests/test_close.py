"""Unpaid orders close at their deadline (DCC lockTimeoutMinutes, or the team's end if sooner)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.common.locks import single_instance
from apps.payments.models import PayOrder
from apps.payments.orders import mall_orders_deal_done
from apps.payments.tasks import close_expired_mall_orders
from apps.payments.tests.factories import PayOrderFactory
from apps.payments.tests.helpers import create_order, login
from apps.trade.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def minutes_ago(minutes: int):
    return timezone.now() - timedelta(minutes=minutes)


def test_unpaid_orders_past_the_lock_timeout_close(db):
    stale_wait = PayOrderFactory(order_time=minutes_ago(16))
    stale_create = PayOrderFactory(order_time=minutes_ago(16), status=PayOrder.Status.CREATE)
    fresh = PayOrderFactory(order_time=minutes_ago(14))
    paid = PayOrderFactory(order_time=minutes_ago(60), status=PayOrder.Status.PAY_SUCCESS)
    assert close_expired_mall_orders() == 2
    statuses = dict(PayOrder.objects.values_list("pk", "status"))
    assert statuses == {
        stale_wait.pk: PayOrder.Status.CLOSE,
        stale_create.pk: PayOrder.Status.CLOSE,
        fresh.pk: PayOrder.Status.PAY_WAIT,
        paid.pk: PayOrder.Status.PAY_SUCCESS,
    }
    assert close_expired_mall_orders() == 0


def test_the_timeout_is_the_dcc_value(db, set_dcc):
    order = PayOrderFactory(order_time=minutes_ago(6))
    assert close_expired_mall_orders() == 0
    set_dcc("lockTimeoutMinutes", "5")
    assert close_expired_mall_orders() == 1
    assert PayOrder.objects.get(pk=order.pk).status == PayOrder.Status.CLOSE


def test_an_order_whose_team_ended_closes_before_the_timeout(db):
    team = TeamFactory(valid_start_time=minutes_ago(20), valid_end_time=minutes_ago(1))
    order = PayOrderFactory(order_time=minutes_ago(2), team_id=team.team_id)
    assert close_expired_mall_orders() == 1
    assert PayOrder.objects.get(pk=order.pk).status == PayOrder.Status.CLOSE


def test_batches_cover_every_expired_order(db, settings):
    settings.MALL_ORDER_CLOSE_BATCH = 2
    PayOrderFactory.create_batch(5, order_time=minutes_ago(20))
    assert close_expired_mall_orders() == 5


def test_only_one_instance_runs_the_job(db):
    PayOrderFactory(order_time=minutes_ago(20))
    with single_instance("close_expired_mall_orders", ttl_seconds=30) as acquired:
        assert acquired
        assert close_expired_mall_orders() == 0
    assert close_expired_mall_orders() == 1


def test_a_closed_order_shows_closed_in_its_cashier(mall_offer, client):
    order = create_order("xiaofuge", mall_offer.goods_id)
    PayOrder.objects.filter(pk=order.pk).update(order_time=minutes_ago(16))
    close_expired_mall_orders()
    login(client, "xiaofuge")
    html = client.get(f"/cashier/{order.order_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "This order was not paid, so nothing was charged." in html and 'data-status="CLOSE"' in html
    assert 'data-state="cancelled"' in html and "This order is closed" not in html


def test_team_completion_marks_paid_orders_deal_done(db):
    paid = PayOrderFactory(status=PayOrder.Status.PAY_SUCCESS)
    flagged = PayOrderFactory(status=PayOrder.Status.PAY_SUCCESS, refund_required=True)
    assert mall_orders_deal_done(out_trade_nos=[paid.order_id, flagged.order_id, "nope"]) == 1
    assert PayOrder.objects.get(pk=paid.pk).status == PayOrder.Status.DEAL_DONE
    assert PayOrder.objects.get(pk=flagged.pk).status == PayOrder.Status.PAY_SUCCESS
