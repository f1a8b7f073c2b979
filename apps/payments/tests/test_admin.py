"""Back office: mall orders and sandbox payments are listed; a lost sandbox notify can be sent again."""

import pytest

from apps.accounts.tests.factories import StaffFactory
from apps.payments.gateways.sandbox import sandbox_trade_pay
from apps.payments.models import PayOrder, SandboxTrade
from apps.payments.tests.helpers import create_order, user

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    client.force_login(StaffFactory())
    return client


def test_lists_open(staff, mall_offer):
    create_order("xiaofuge", mall_offer.goods_id)
    for url in ("/admin/payments/payorder/", "/admin/payments/sandboxtrade/", "/admin/payments/refundrecord/"):
        assert staff.get(url).status_code == 200, url


def test_a_failed_sandbox_notify_is_sent_again(
    staff, mall_offer, tasks_run_inline, notify_via_test_client, django_capture_on_commit_callbacks
):
    order = create_order("xiaofuge", mall_offer.goods_id)
    with django_capture_on_commit_callbacks():  # the first delivery "got lost"
        trade = sandbox_trade_pay(
            order_id=order.order_id,
            user=user("xiaofuge"),
            notify_url="http://testserver/api/v1/alipay/alipay_notify_url",
        )
    SandboxTrade.objects.filter(pk=trade.pk).update(notify_status=SandboxTrade.NotifyStatus.FAILED, notify_attempts=6)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            "/admin/payments/sandboxtrade/",
            {"action": "resend_notify", "_selected_action": [trade.pk]},
            follow=True,
            HTTP_ACCEPT_LANGUAGE="en",
        )
    assert "1 notify queued again." in response.content.decode()
    trade.refresh_from_db()
    assert (trade.notify_status, trade.notify_attempts) == (SandboxTrade.NotifyStatus.DELIVERED, 1)
    assert PayOrder.objects.get(pk=order.pk).status == PayOrder.Status.PAY_SUCCESS
