"""Every state a shopper's order can be in has its own words and next step on /orders and the cashier,
and never the words of another state (no "invite friends" once the team is complete, no "refund" for an
order that was never paid)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import User
from apps.activities.tests.factories import an_offer
from apps.common.mq import TEAM_REFUND, TEAM_SUCCESS
from apps.payments.models import PayOrder, RefundRecord
from apps.payments.refunds import mall_order_refund_money
from apps.payments.tests.helpers import create_order, login
from apps.payments.tests.test_refunds import deliver_bus_messages, pay
from apps.trade.models import Team
from apps.trade.services import order_refund
from apps.trade.timeouts import trade_close_expired_teams

pytestmark = pytest.mark.django_db


def orders_page(username: str, language: str = "en") -> str:
    response = login(Client(), username).get("/orders", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


def row_of(html: str, order: PayOrder) -> str:
    start = html.index(f'id="order-{order.order_id}"')
    return html[start : html.index("</li>", start)]


def cashier_page(username: str, order: PayOrder) -> str:
    response = login(Client(), username).get(f"/cashier/{order.order_id}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return response.content.decode()


def assert_absent(html: str, *texts: str) -> None:
    for text in texts:
        assert text not in html, text


def test_waiting_for_payment_offers_pay_and_cancel(mall_offer):
    order = create_order("xiaofuge", mall_offer.goods_id)
    row = row_of(orders_page("xiaofuge"), order)
    assert 'data-state="awaiting_payment"' in row and "Waiting for payment" in row
    assert f'href="/cashier/{order.order_id}">Pay now</a>' in row and ">Cancel order</button>" in row
    assert 'class="countdown" data-valid-end=' in row
    assert_absent(row, "Refund", "Invite", "Closed", "closed")


def test_paid_and_waiting_for_the_team_invites_with_seats_left_and_countdown(mall_offer):
    order = create_order("xiaofuge", mall_offer.goods_id)
    pay(order)
    team = Team.objects.get(team_id=order.team_id)
    row = row_of(orders_page("xiaofuge"), order)
    assert 'data-state="waiting_for_team"' in row and "Paid, waiting for the team" in row
    assert "2 more people needed" in row and f'data-valid-end="{team.valid_end_time.isoformat()}"' in row
    assert f'class="order-action action-invite" href="/teams/{order.team_id}">Invite friends</a>' in row
    assert ">Request a refund</button>" in row
    cashier = cashier_page("xiaofuge", order)
    assert "2 seats left" in cashier and "Invite friends" in cashier and 'class="countdown"' in cashier
    # One friend joins and pays: the singular.
    pay(create_order("liergou", mall_offer.goods_id, team_id=order.team_id))
    assert "1 more person needed" in row_of(orders_page("xiaofuge"), order)
    assert "1 seat left" in cashier_page("xiaofuge", order)


def test_a_complete_team_is_a_success_without_an_invitation(mall_offer):
    leader = create_order("xiaofuge", mall_offer.goods_id)
    for order in (
        leader,
        *(create_order(u, mall_offer.goods_id, team_id=leader.team_id) for u in ("liergou", "demo1")),
    ):
        pay(order)
    # The team completed; the mall's DEAL_DONE comes later via the bus: the page says complete already.
    assert PayOrder.objects.get(pk=leader.pk).status == PayOrder.Status.PAY_SUCCESS
    for html in (row_of(orders_page("xiaofuge"), leader), cashier_page("xiaofuge", leader)):
        assert 'data-state="team_complete"' in html or "state-team_complete" in html
        assert "Team complete" in html and "your order is confirmed" in html
        assert f'href="/teams/{leader.team_id}">View the team</a>' in html
        assert_absent(html, "Invite", "invite", "more people needed", "seats left", "Share", "share")


def test_a_failed_team_says_refund_in_progress_then_refunded_with_amount_and_date(
    mall_offer, tasks_run_inline, django_capture_on_commit_callbacks
):
    order = create_order("xiaofuge", mall_offer.goods_id)
    pay(order)
    past = timezone.now() - timedelta(seconds=1)
    Team.objects.filter(team_id=order.team_id).update(valid_start_time=past - timedelta(hours=1), valid_end_time=past)
    assert trade_close_expired_teams()["failed"] == 1
    row = row_of(orders_page("xiaofuge"), order)
    assert 'data-state="refund_in_progress"' in row and "Refund in progress" in row
    assert "The team did not fill in time. ¥80.00 is on its way back to you." in row
    assert_absent(row, "Refunded ¥", "Invite", "Closed", "closed", "Pay now")

    deliver_bus_messages(TEAM_REFUND, django_capture_on_commit_callbacks)
    record = RefundRecord.objects.get()
    assert record.status == RefundRecord.Status.SUCCESS
    row = row_of(orders_page("xiaofuge"), order)
    refunded_on = timezone.localtime(record.refunded_at).strftime("%Y-%m-%d %H:%M")
    assert 'data-state="team_failed_refunded"' in row and "Refunded ¥80.00" in row
    assert "The team did not fill before" in row and f"¥80.00 was refunded on {refunded_on}." in row
    assert f'href="/goods/{mall_offer.goods_id}">Open a new team</a>' in row
    assert_absent(row, "Closed", "closed", "Invite", "in progress", "Request a refund")


def test_refunded_by_staff_names_customer_service(mall_offer, tasks_run_inline, django_capture_on_commit_callbacks):
    order = create_order("xiaofuge", mall_offer.goods_id)
    pay(order)
    staff = User.objects.create_user("operator", password="x", is_staff=True)
    order_refund(source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL, out_trade_no=order.order_id)
    mall_order_refund_money(order_id=order.order_id, reason="customer asked by phone", operator=staff)
    row = row_of(orders_page("xiaofuge"), order)
    assert 'data-state="refunded_by_staff"' in row and "Refunded ¥80.00" in row
    assert "Customer service refunded ¥80.00 on" in row and ">Buy again</a>" in row
    assert_absent(row, "Closed", "closed", "The team did not fill", "You gave your seat back")


def test_refund_from_orders_shows_the_new_state_on_the_answering_page(
    mall_offer, client, tasks_run_inline, django_capture_on_commit_callbacks
):
    """POST → redirect → GET reads the state fresh: the money path is asynchronous (the bus), so the page
    answering the refund says "in progress" honestly; once the refund is through it says refunded."""
    order = create_order("xiaofuge", mall_offer.goods_id)
    pay(order)
    login(client, "xiaofuge")
    response = client.post(f"/orders/{order.order_id}/refund", follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert response.redirect_chain == [(f"/orders#order-{order.order_id}", 302)]
    html = response.content.decode()
    assert '<li class="message success" role="status">Refund requested: ¥80.00 is on its way back to you.' in html
    row = row_of(html, order)
    assert 'data-state="refund_in_progress"' in row and "¥80.00 is on its way back to you." in row
    assert_absent(row, "Request a refund", "Invite", "waiting for the team")

    deliver_bus_messages(TEAM_REFUND, django_capture_on_commit_callbacks)
    row = row_of(orders_page("xiaofuge"), order)
    assert 'data-state="refunded"' in row and "You gave your seat back. ¥80.00 was refunded on" in row

    again = client.post(f"/orders/{order.order_id}/refund", follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert '<li class="message info" role="status">This order was already cancelled or refunded.' in (
        again.content.decode()
    )


def test_cancelling_an_unpaid_order_promises_no_money_back(mall_offer, client):
    order = create_order("xiaofuge", mall_offer.goods_id)
    login(client, "xiaofuge")
    response = client.post(f"/orders/{order.order_id}/refund", follow=True, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert '<li class="message success" role="status">Order cancelled. Nothing was charged.' in html
    row = row_of(html, order)
    assert 'data-state="cancelled"' in row and "Cancelled" in row and "nothing was charged" in row
    assert_absent(row, "refund", "Refund", "returned", "Pay now", "Cancel order", "on its way back")


def test_an_unpaid_order_past_its_deadline_is_cancelled_before_the_close_job(mall_offer):
    order = create_order("xiaofuge", mall_offer.goods_id)
    PayOrder.objects.filter(pk=order.pk).update(order_time=timezone.now() - timedelta(days=1))
    row = row_of(orders_page("xiaofuge"), order)
    assert 'data-state="cancelled"' in row and "Pay now" not in row


def test_errors_show_shopper_words_never_codes(mall_offer, client):
    order = create_order("xiaofuge", mall_offer.goods_id)
    login(client, "liergou")  # not their order
    html = client.post(f"/orders/{order.order_id}/refund", follow=True, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<li class="message error" role="alert">We could not find that order.</li>' in html
    assert_absent(html, "0404", "outTradeNo", "not found")


def test_orders_page_reads_states_in_constant_queries(mall_offer):
    def queries() -> int:
        client = login(Client(), "xiaofuge")
        client.get("/orders")  # warm caches (DCC, session)
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/orders").status_code == 200
        return len(captured)

    pay(create_order("xiaofuge", mall_offer.goods_id))
    one = queries()
    pay(create_order("xiaofuge", an_offer(credential=mall_offer.credential, plan="MJ", expr="100,10").goods_id))
    create_order("xiaofuge", an_offer(credential=mall_offer.credential, plan="ZK", expr="0.8").goods_id)
    assert queries() == one


def test_deal_done_via_the_bus_is_still_complete(mall_offer, tasks_run_inline, django_capture_on_commit_callbacks):
    leader = create_order("xiaofuge", mall_offer.goods_id)
    for order in (
        leader,
        *(create_order(u, mall_offer.goods_id, team_id=leader.team_id) for u in ("liergou", "demo1")),
    ):
        pay(order)
    deliver_bus_messages(TEAM_SUCCESS, django_capture_on_commit_callbacks)
    assert PayOrder.objects.get(pk=leader.pk).status == PayOrder.Status.DEAL_DONE
    assert 'data-state="team_complete"' in row_of(orders_page("xiaofuge"), leader)


def test_the_states_speak_chinese(mall_offer):
    order = create_order("xiaofuge", mall_offer.goods_id)
    row = row_of(orders_page("xiaofuge", language="zh-hans"), order)
    assert "Waiting for payment" not in row and "Pay now" not in row and "Cancel order" not in row
