"""Sending a sandbox notify again pays the order: it needs the change permission on sandbox trades
(the rows stay read-only); view-only staff neither see nor run it."""

import pytest
from django.urls import reverse

from apps.accounts.tests.admin_actions import client_of, offered_actions, post_action, staff_with
from apps.payments.gateways.sandbox import sandbox_trade_pay
from apps.payments.models import SandboxTrade
from apps.payments.tests.helpers import create_order, user

pytestmark = pytest.mark.django_db

URL = reverse("admin:payments_sandboxtrade_changelist")


@pytest.fixture
def failed_trade(mall_offer, django_capture_on_commit_callbacks) -> SandboxTrade:
    order = create_order("xiaofuge", mall_offer.goods_id)
    with django_capture_on_commit_callbacks():  # the delivery "got lost"
        trade = sandbox_trade_pay(order_id=order.order_id, user=user("xiaofuge"), notify_url="http://x/")
    SandboxTrade.objects.filter(pk=trade.pk).update(notify_status=SandboxTrade.NotifyStatus.FAILED, notify_attempts=6)
    return trade


def test_view_only_staff_cannot_resend(failed_trade, tasks_run_inline, django_capture_on_commit_callbacks):
    viewer = client_of(staff_with("payments.view_sandboxtrade"))
    assert "resend_notify" not in offered_actions(viewer, URL)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        post_action(viewer, URL, "resend_notify", [failed_trade.pk])
    assert (callbacks, tasks_run_inline) == ([], [])
    assert SandboxTrade.objects.get(pk=failed_trade.pk).notify_status == SandboxTrade.NotifyStatus.FAILED


def test_staff_with_change_resends(failed_trade, django_capture_on_commit_callbacks):
    operator = client_of(staff_with("payments.view_sandboxtrade", "payments.change_sandboxtrade"))
    assert "resend_notify" in offered_actions(operator, URL)
    with django_capture_on_commit_callbacks() as callbacks:
        assert post_action(operator, URL, "resend_notify", [failed_trade.pk]).status_code == 302
    assert len(callbacks) == 1
    assert SandboxTrade.objects.get(pk=failed_trade.pk).notify_status == SandboxTrade.NotifyStatus.PENDING
