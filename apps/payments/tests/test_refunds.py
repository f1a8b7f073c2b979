"""The mall's money comes back: refund callbacks close orders and refund through the gateway, once."""

import pytest
from django.conf import settings

from apps.activities.tests.factories import an_offer
from apps.common.mq import TEAM_REFUND, TEAM_SUCCESS
from apps.notifications.consumers import message_apply
from apps.notifications.models import NotifyTask
from apps.payments.models import PayOrder, RefundRecord
from apps.payments.notify import payment_notify_handle
from apps.payments.tests.helpers import create_order, notify_params
from apps.trade.services import order_refund

pytestmark = pytest.mark.django_db


def pay(order: PayOrder) -> None:
    assert payment_notify_handle(params=notify_params(order))


def deliver_bus_messages(routing_key: str, capture) -> None:
    """What the consumer does with the outbox's bus messages (each applied twice: a redelivery)."""
    for task in NotifyTask.objects.filter(notify_type="MQ", notify_mq=routing_key):
        for _ in range(2):
            with capture(execute=True):
                message_apply(routing_key=routing_key, message_uuid=str(task.uuid), body=task.parameter_json)


def refund_as_shopper(order: PayOrder) -> str:
    outcome = order_refund(
        source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL, out_trade_no=order.order_id,
        user_id=order.user.username,
    )  # fmt: skip
    return outcome.strategy


def test_a_paid_order_of_an_unformed_team_is_refunded_once(
    mall_offer, tasks_run_inline, django_capture_on_commit_callbacks
):
    order = create_order("demo1", mall_offer.goods_id)
    pay(order)
    assert refund_as_shopper(order) == "paid_unformed"
    deliver_bus_messages(TEAM_REFUND, django_capture_on_commit_callbacks)
    record = RefundRecord.objects.get()
    assert (record.status, record.amount, record.pay_order_id) == ("SUCCESS", order.pay_amount, order.order_id)
    assert record.attempts == 1  # the redelivered message did not refund again
    order.refresh_from_db()
    assert order.status == PayOrder.Status.CLOSE


def test_another_channels_messages_never_touch_the_malls_orders(
    mall_offer, tasks_run_inline, django_capture_on_commit_callbacks
):
    """The bus is shared: a refund or completion message of another channel that happens to carry one of
    our order ids as its outTradeNo (another mall's order number) closes, refunds or completes nothing."""
    order = create_order("demo1", mall_offer.goods_id)
    pay(order)
    for routing_key, body in (
        (TEAM_REFUND, {"type": "trade_paid2refund", "source": "s02", "channel": "c02", "userId": "demo1",
                       "teamId": order.team_id, "orderId": "000000000000", "outTradeNo": order.order_id,
                       "activityId": mall_offer.activity_id}),
        (TEAM_REFUND, {"type": "trade_paid2refund", "outTradeNo": order.order_id}),  # no channel: not ours
        (TEAM_SUCCESS, {"source": "s02", "channel": "c02", "teamId": order.team_id,
                        "outTradeNoList": [order.order_id]}),
    ):  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            message_apply(routing_key=routing_key, message_uuid=f"forged-{routing_key}-{len(body)}", body=body)
    order.refresh_from_db()
    assert order.status == PayOrder.Status.PAY_SUCCESS
    assert not RefundRecord.objects.exists()


def test_an_unpaid_order_is_just_closed(mall_offer, tasks_run_inline, django_capture_on_commit_callbacks):
    order = create_order("demo1", mall_offer.goods_id)
    assert refund_as_shopper(order) == "unpaid_unlock"
    deliver_bus_messages(TEAM_REFUND, django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert order.status == PayOrder.Status.CLOSE
    assert not RefundRecord.objects.exists()


def test_team_success_marks_orders_done_then_a_formed_refund_returns_money(
    mall_offer, tasks_run_inline, django_capture_on_commit_callbacks
):
    first = create_order("demo1", mall_offer.goods_id)
    others = [create_order(user, mall_offer.goods_id, team_id=first.team_id) for user in ("demo2", "demo3")]
    for order in (first, *others):
        pay(order)
    deliver_bus_messages(TEAM_SUCCESS, django_capture_on_commit_callbacks)
    assert set(PayOrder.objects.values_list("status", flat=True)) == {PayOrder.Status.DEAL_DONE}
    assert refund_as_shopper(others[0]) == "paid_formed"
    deliver_bus_messages(TEAM_REFUND, django_capture_on_commit_callbacks)
    assert RefundRecord.objects.get().pay_order_id == others[0].order_id
    assert PayOrder.objects.get(pk=others[0].pk).status == PayOrder.Status.CLOSE
    assert PayOrder.objects.filter(status=PayOrder.Status.DEAL_DONE).count() == 2


def test_sandbox_refuses_refunding_more_than_was_paid(mall_offer):
    from decimal import Decimal

    from apps.payments.gateways import sandbox_gateway

    order = create_order("demo1", mall_offer.goods_id)
    assert not sandbox_gateway().refund(order=order, amount=order.pay_amount + Decimal("1"), out_request_no="x").success
    assert sandbox_gateway().refund(order=order, amount=order.pay_amount, out_request_no="y").success


def test_shopper_refunds_from_the_api_and_the_orders_page(mall_offer, client, tasks_run_inline):
    from apps.payments.tests.helpers import login, mobile_client

    paid = create_order("demo1", mall_offer.goods_id)
    pay(paid)
    api = mobile_client("demo1").post(f"/api/v1/mall/orders/{paid.order_id}/refund")
    assert api.json()["data"] == {"orderId": paid.order_id, "code": "success", "strategy": "paid_unformed"}
    again = mobile_client("demo1").post(f"/api/v1/mall/orders/{paid.order_id}/refund")
    assert again.json()["data"]["code"] == "repeat"
    stranger = mobile_client("demo2").post(f"/api/v1/mall/orders/{paid.order_id}/refund")
    assert (stranger.status_code, stranger.json()["code"]) == (404, "0404")

    unpaid = create_order("demo3", an_offer(credential=mall_offer.credential).goods_id)
    login(client, "demo3")
    response = client.post(f"/orders/{unpaid.order_id}/refund")
    assert response.status_code == 302
    from apps.trade.models import Order

    assert Order.objects.get(out_trade_no=unpaid.order_id).status == Order.Status.REFUNDED


def _signed_callback(body: dict, task_uuid: str, secret: str) -> dict:
    import json

    from apps.channels.signing import callback_headers

    raw = json.dumps(body).encode()
    headers = {"X-GBM-Task": task_uuid, **callback_headers(secret, raw)}
    return {"data": raw, "content_type": "application/json", "headers": headers}


def test_the_malls_http_receiver_verifies_our_signature_and_applies_once(mall_offer, client):
    orders = [create_order("demo1", mall_offer.goods_id)]
    orders += [create_order(user, mall_offer.goods_id, team_id=orders[0].team_id) for user in ("demo2", "demo3")]
    for order in orders:
        pay(order)
    body = {
        "source": settings.MALL_SOURCE,
        "channel": settings.MALL_CHANNEL,
        "teamId": orders[0].team_id,
        "outTradeNoList": [o.order_id for o in orders],
    }
    foreign = client.post(
        "/api/v1/alipay/group_buy_notify", **_signed_callback({**body, "source": "s02"}, "t-0", mall_offer.secret)
    )
    assert (foreign.status_code, foreign.content) == (200, b"success")  # delivered, but not about our orders
    assert not PayOrder.objects.filter(status=PayOrder.Status.DEAL_DONE).exists()
    forged = client.post("/api/v1/alipay/group_buy_notify", **_signed_callback(body, "t-1", secret="wrong"))
    assert (forged.status_code, forged.content) == (401, b"fail")
    assert not PayOrder.objects.filter(status=PayOrder.Status.DEAL_DONE).exists()
    for _ in range(2):
        answer = client.post("/api/v1/alipay/group_buy_notify", **_signed_callback(body, "t-1", mall_offer.secret))
        assert (answer.status_code, answer.content) == (200, b"success")
    assert PayOrder.objects.filter(status=PayOrder.Status.DEAL_DONE).count() == 3


def test_full_story_with_money(mall_offer, tasks_run_inline, django_capture_on_commit_callbacks, set_dcc):
    """A team of 3: one unpaid member times out, a newcomer takes the freed seat, all pay, the team
    completes, then a paid member refunds: the team is complete-with-refund and the money is back."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.trade.models import Team
    from apps.trade.timeouts import trade_timeouts_run

    leader = create_order("xiaofuge", mall_offer.goods_id)
    slow = create_order("liergou", mall_offer.goods_id, team_id=leader.team_id)
    friend = create_order("demo1", mall_offer.goods_id, team_id=leader.team_id)
    pay(leader)
    pay(friend)
    set_dcc("lockTimeoutMinutes", "5")
    assert trade_timeouts_run(now=timezone.now() + timedelta(minutes=6))["released"] == 1  # liergou never paid
    deliver_bus_messages(TEAM_REFUND, django_capture_on_commit_callbacks)
    assert PayOrder.objects.get(pk=slow.pk).status == PayOrder.Status.CLOSE

    newcomer = create_order("demo2", mall_offer.goods_id, team_id=leader.team_id)  # the recovered seat
    pay(newcomer)
    deliver_bus_messages(TEAM_SUCCESS, django_capture_on_commit_callbacks)
    team = Team.objects.get(team_id=leader.team_id)
    assert (team.status, team.complete_count) == (Team.Status.COMPLETE, 3)
    assert PayOrder.objects.filter(status=PayOrder.Status.DEAL_DONE).count() == 3

    assert refund_as_shopper(friend) == "paid_formed"
    deliver_bus_messages(TEAM_REFUND, django_capture_on_commit_callbacks)
    team.refresh_from_db()
    assert (team.status, team.complete_count, team.lock_count) == (Team.Status.COMPLETE_WITH_REFUND, 2, 2)
    record = RefundRecord.objects.get()
    assert (record.pay_order_id, record.amount, record.status) == (friend.order_id, friend.pay_amount, "SUCCESS")
    assert PayOrder.objects.get(pk=friend.pk).status == PayOrder.Status.CLOSE
