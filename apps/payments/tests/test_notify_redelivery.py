"""Gateways re-deliver a notify for days: after the money went back, the same notify changes nothing.

Each story ends with a finished refund (one RefundRecord, SUCCESS, the order CLOSE), then the
gateway's same signed ``TRADE_SUCCESS`` notify arrives again at the public endpoint: it must answer
``success`` and neither flag the order for another refund nor call the gateway's refund again.
"""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from apps.common.mq import TEAM_REFUND
from apps.notifications.consumers import message_apply
from apps.notifications.models import NotifyTask
from apps.payments.gateways.sandbox import SandboxGateway
from apps.payments.models import PayOrder, RefundRecord
from apps.payments.orders import mall_order_close_expired
from apps.payments.tests.helpers import NOTIFY_URL, create_order, notify_params
from apps.trade.models import Team
from apps.trade.services import order_refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def gateway_refunds(monkeypatch) -> list[str]:
    """Every refund the sandbox gateway is asked for (its out_request_no), still performed."""
    calls: list[str] = []
    real = SandboxGateway.refund

    def counted(self, *, order, amount, out_request_no, reason=""):
        calls.append(out_request_no)
        return real(self, order=order, amount=amount, out_request_no=out_request_no, reason=reason)

    monkeypatch.setattr(SandboxGateway, "refund", counted)
    return calls


def deliver(params: dict[str, str], capture) -> str:
    """POST the notify as the gateway does; refunds it enqueues run at once (after commit)."""
    with capture(execute=True):
        response = Client(enforce_csrf_checks=True).post(NOTIFY_URL, params)
    assert response.status_code == 200
    return response.content.decode()


def assert_refunded_once(order: PayOrder, gateway_refunds: list[str]) -> None:
    fresh = PayOrder.objects.get(pk=order.pk)
    assert (fresh.status, fresh.refund_required, fresh.trade_no) == (PayOrder.Status.CLOSE, False, "T" + order.order_id)
    record = RefundRecord.objects.get()
    assert (record.pay_order_id, record.status, record.attempts) == (order.order_id, "SUCCESS", 1)
    assert gateway_refunds == [f"RF{order.order_id}"]


def test_a_redelivered_notify_after_a_shopper_refund_is_a_no_op(
    mall_offer, tasks_run_inline, django_capture_on_commit_callbacks, gateway_refunds
):
    order = create_order("demo1", mall_offer.goods_id)
    params = notify_params(order)
    assert deliver(params, django_capture_on_commit_callbacks) == "success"
    order_refund(
        source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL, out_trade_no=order.order_id, user_id="demo1"
    )
    for task in NotifyTask.objects.filter(notify_type="MQ", notify_mq=TEAM_REFUND):
        with django_capture_on_commit_callbacks(execute=True):
            message_apply(routing_key=TEAM_REFUND, message_uuid=str(task.uuid), body=task.parameter_json)
    assert_refunded_once(order, gateway_refunds)

    for _ in range(3):  # the gateway keeps re-delivering
        assert deliver(params, django_capture_on_commit_callbacks) == "success"
    assert_refunded_once(order, gateway_refunds)


def test_a_redelivered_late_payment_of_a_closed_order_is_refunded_once(
    mall_offer, tasks_run_inline, django_capture_on_commit_callbacks, gateway_refunds
):
    order = create_order("xiaofuge", mall_offer.goods_id)
    PayOrder.objects.filter(pk=order.pk).update(order_time=timezone.now() - timedelta(minutes=16))
    assert mall_order_close_expired() == 1
    params = notify_params(order)
    assert deliver(params, django_capture_on_commit_callbacks) == "success"  # paid after closing: refunded
    assert_refunded_once(order, gateway_refunds)

    assert deliver(params, django_capture_on_commit_callbacks) == "success"
    assert_refunded_once(order, gateway_refunds)
    assert Team.objects.get(team_id=order.team_id).complete_count == 0


def test_a_redelivered_notify_after_a_refused_settlement_was_refunded_is_a_no_op(
    mall_offer, tasks_run_inline, django_capture_on_commit_callbacks, gateway_refunds
):
    order = create_order("xiaofuge", mall_offer.goods_id)
    Team.objects.filter(team_id=order.team_id).update(
        valid_start_time=timezone.now() - timedelta(minutes=30), valid_end_time=timezone.now() - timedelta(minutes=1)
    )
    params = notify_params(order)
    assert deliver(params, django_capture_on_commit_callbacks) == "success"  # E0106: paid, refunded at once
    assert_refunded_once(order, gateway_refunds)

    assert deliver(params, django_capture_on_commit_callbacks) == "success"
    assert_refunded_once(order, gateway_refunds)


def test_another_payment_of_a_refunded_order_is_logged_for_staff_not_flagged(
    mall_offer, tasks_run_inline, django_capture_on_commit_callbacks, gateway_refunds, caplog
):
    order = create_order("xiaofuge", mall_offer.goods_id)
    PayOrder.objects.filter(pk=order.pk).update(order_time=timezone.now() - timedelta(minutes=16))
    mall_order_close_expired()
    assert deliver(notify_params(order), django_capture_on_commit_callbacks) == "success"
    other_trade = notify_params(order, trade_no="T2-" + order.order_id, notify_id="n2")
    assert deliver(other_trade, django_capture_on_commit_callbacks) == "success"
    assert_refunded_once(order, gateway_refunds)
    assert "paid twice" in caplog.text
