"""Refunds and timeouts: every (team, order) state pair, seat recovery, the full story."""

import json
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from apps.activities.tests.factories import Offer
from apps.channels.signing import signed_headers
from apps.common.errors import GroupBuyError
from apps.common.mq import TEAM_REFUND
from apps.notifications.consumers import message_apply
from apps.notifications.models import NotifyTask
from apps.trade.apis import RefundOut
from apps.trade.lock import LockCommand
from apps.trade.models import NotifyType, Order, Team
from apps.trade.services import order_lock, order_refund, order_settle
from apps.trade.settle import SettleCommand
from apps.trade.tests.helpers import team_stock_read
from apps.trade.tests.invariants import assert_trade_invariants
from apps.trade.timeouts import trade_timeouts_run

pytestmark = pytest.mark.django_db


def lock(offer: Offer, user, team_id=None, **kwargs):
    return order_lock(
        command=LockCommand(user_id=user, source=offer.source, channel=offer.channel, goods_id=offer.goods_id,
                            activity_id=offer.activity_id, out_trade_no=f"OTN-{user}", team_id=team_id, **kwargs)
    )  # fmt: skip


def settle(offer: Offer, user, at=None):
    return order_settle(
        command=SettleCommand(user_id=user, source=offer.source, channel=offer.channel, out_trade_no=f"OTN-{user}",
                              out_trade_time=at or timezone.now())
    )  # fmt: skip


def refund(offer: Offer, user, as_user=True):
    return order_refund(source=offer.source, channel=offer.channel, out_trade_no=f"OTN-{user}",
                        user_id=user if as_user else None)  # fmt: skip


def consume_refund_messages() -> None:
    """Apply the bus messages the refunds wrote, as the consumer would (seat recovery)."""
    for task in NotifyTask.objects.filter(notify_type="MQ", notify_mq=TEAM_REFUND):
        message_apply(routing_key=TEAM_REFUND, message_uuid=str(task.uuid), body=task.parameter_json)


def team_of(user) -> Team:
    return Order.objects.get(out_trade_no=f"OTN-{user}").team


@pytest.mark.parametrize(
    ("team_status", "order_status", "strategy", "team_after"),
    [
        (0, 0, "unpaid_unlock", 0),
        (0, 1, "paid_unformed", 0),
        (2, 0, "unpaid_unlock", 2),
        (2, 1, "paid_unformed", 2),
        (1, 1, "paid_formed", 3),
        (3, 1, "paid_formed", 3),
    ],
)
def test_each_state_pair_picks_its_strategy(offer, team_status, order_status, strategy, team_after):
    team_id = lock(offer, "demo1").team_id
    lock(offer, "demo2", team_id=team_id)
    if order_status == 1:
        settle(offer, "demo1")
        settle(offer, "demo2")
    Team.objects.filter(team_id=team_id).update(status=team_status)
    before = Team.objects.get(team_id=team_id)
    outcome = refund(offer, "demo1")
    team = Team.objects.get(team_id=team_id)
    assert (outcome.strategy, outcome.repeat, team.status) == (strategy, False, team_after)
    assert team.lock_count == before.lock_count - 1
    assert team.complete_count == before.complete_count - order_status
    order = Order.objects.get(out_trade_no="OTN-demo1")
    assert order.status == Order.Status.REFUNDED
    assert order.biz_id == f"{offer.activity_id}_demo1_1_refund_{order.order_id}"
    category = {"unpaid_unlock": "trade_unpaid2refund", "paid_unformed": "trade_paid2refund",
                "paid_formed": "trade_paid_team2refund"}[strategy]  # fmt: skip
    assert NotifyTask.objects.filter(notify_category=category, notify_mq=TEAM_REFUND).count() == 1
    assert_trade_invariants(check_redis=False)


@pytest.mark.parametrize("team_status", [1, 3])
def test_a_locked_order_of_a_formed_team_is_refused(offer, team_status):
    team_id = lock(offer, "demo1").team_id
    Team.objects.filter(team_id=team_id).update(status=team_status)
    with pytest.raises(GroupBuyError) as caught:
        refund(offer, "demo1")
    assert caught.value.code == "E0104"
    assert Order.objects.get(out_trade_no="OTN-demo1").status == Order.Status.LOCKED


def test_the_last_payer_leaving_a_formed_team_fails_it(offer):
    team_id = lock(offer, "demo1").team_id
    settle(offer, "demo1")
    Team.objects.filter(team_id=team_id).update(status=Team.Status.COMPLETE)
    assert refund(offer, "demo1").strategy == "paid_formed"
    assert Team.objects.get(team_id=team_id).status == Team.Status.FAILED


def test_refunding_twice_answers_repeat_and_changes_nothing(offer):
    lock(offer, "demo1")
    refund(offer, "demo1")
    tasks = NotifyTask.objects.count()
    again = refund(offer, "demo1")
    assert again.repeat and again.strategy == ""
    assert NotifyTask.objects.count() == tasks


@pytest.mark.django_db(transaction=True)
def test_a_deadlocked_refund_transaction_is_run_again(offer, monkeypatch):
    from apps.trade import refund as refund_module

    lock(offer, "demo1")
    real, calls = refund_module._refund_locked, []

    def deadlocked_once(order_pk):
        calls.append(order_pk)
        if len(calls) == 1:
            raise OperationalError(1213, "Deadlock found when trying to get lock")
        return real(order_pk)

    monkeypatch.setattr(refund_module, "_refund_locked", deadlocked_once)
    outcome = refund(offer, "demo1")
    assert (len(calls), outcome.strategy, outcome.order.status) == (2, "unpaid_unlock", Order.Status.REFUNDED)
    assert_trade_invariants()


def test_unknown_and_foreign_orders(offer):
    with pytest.raises(GroupBuyError) as unknown:
        order_refund(source=offer.source, channel=offer.channel, out_trade_no="NOPE")
    assert unknown.value.code == "E0104"
    lock(offer, "demo1")
    with pytest.raises(GroupBuyError) as foreign:
        order_refund(source=offer.source, channel=offer.channel, out_trade_no="OTN-demo1", user_id="demo2")
    assert foreign.value.code == "0002"


def test_a_refund_frees_the_take_slot(offer):
    lock(offer, "demo1")
    refund(offer, "demo1")
    again = order_lock(
        command=LockCommand(user_id="demo1", source=offer.source, channel=offer.channel, goods_id=offer.goods_id,
                            activity_id=offer.activity_id, out_trade_no="OTN-demo1-again")
    )  # fmt: skip
    assert Order.objects.get(order_id=again.order_id).biz_id == f"{offer.activity_id}_demo1_1"


def test_http_teams_get_their_callback_and_the_bus_message(offer):
    lock(offer, "demo1", notify_type=NotifyType.HTTP, notify_url="http://127.0.0.1:9/cb")
    refund(offer, "demo1")
    kinds = sorted(NotifyTask.objects.values_list("notify_type", flat=True))
    assert kinds == ["HTTP", "MQ"]


def test_consuming_the_refund_recovers_the_seat_once(offer):
    team_id = lock(offer, "demo1").team_id
    lock(offer, "demo2", team_id=team_id)
    lock(offer, "demo3", team_id=team_id)
    refund(offer, "demo2")
    consume_refund_messages()
    consume_refund_messages()  # a redelivery: no second seat
    assert team_stock_read(team_id=team_id).recovered == 1
    lock(offer, "demo4", team_id=team_id)  # the freed seat
    with pytest.raises(GroupBuyError) as full:
        lock(offer, "demo5", team_id=team_id)
    assert full.value.code == "E0006"
    assert_trade_invariants()


def test_paid_formed_recovers_no_seat(offer):
    team_id = lock(offer, "demo1").team_id
    lock(offer, "demo2", team_id=team_id)
    lock(offer, "demo3", team_id=team_id)
    for user in ("demo1", "demo2", "demo3"):
        settle(offer, user)
    refund(offer, "demo3")
    consume_refund_messages()
    assert team_stock_read(team_id=team_id).recovered == 0
    assert Team.objects.get(team_id=team_id).status == Team.Status.COMPLETE_WITH_REFUND


# --- the signed API ---------------------------------------------------------------------------

URL = "/api/v1/gbm/trade/refund_market_pay_order"


def post(client, offer: Offer, body):
    raw = json.dumps(body).encode()
    return client.post(URL, data=raw, content_type="application/json",
                       headers=signed_headers(offer.secret, "POST", URL, raw))  # fmt: skip


def test_api_success_repeat_and_unknown(client, offer):
    result = lock(offer, "demo1")
    body = {"userId": "demo1", "source": offer.source, "channel": offer.channel, "outTradeNo": "OTN-demo1"}
    first = post(client, offer, body).json()["data"]
    assert first == {"userId": "demo1", "orderId": result.order_id, "teamId": result.team_id, "code": "success",
                     "info": "unpaid_unlock"}  # fmt: skip
    assert RefundOut(first).data == first  # built by hand: it must read as the documented serializer writes it
    repeat = post(client, offer, body).json()["data"]
    assert (repeat["code"], repeat["info"], RefundOut(repeat).data == repeat) == ("repeat", "already refunded", True)
    assert post(client, offer, dict(body, outTradeNo="NOPE")).json()["code"] == "E0104"
    assert post(client, offer, {"userId": "demo1"}).status_code == 400


# --- timeouts ---------------------------------------------------------------------------------


def test_unpaid_locks_past_the_dcc_timeout_are_released(offer, set_dcc):
    lock(offer, "demo1")
    set_dcc("lockTimeoutMinutes", "5")
    assert trade_timeouts_run(now=timezone.now() + timedelta(minutes=4))["released"] == 0
    assert trade_timeouts_run(now=timezone.now() + timedelta(minutes=6))["released"] == 1
    assert Order.objects.get(out_trade_no="OTN-demo1").status == Order.Status.REFUNDED


def test_target_required_team_fails_at_expiry_and_refunds_payers(offer):
    team_id = lock(offer, "demo1").team_id
    lock(offer, "demo2", team_id=team_id)
    settle(offer, "demo1")
    result = trade_timeouts_run(now=timezone.now() + timedelta(minutes=16))
    assert result == {"released": 1, "completed": 0, "failed": 1, "refunded": 1}
    assert Team.objects.get(team_id=team_id).status == Team.Status.FAILED
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.REFUNDED}
    assert NotifyTask.objects.filter(notify_category="trade_paid2refund").count() == 1
    assert_trade_invariants(check_redis=False)


def test_auto_form_team_completes_with_whoever_paid(offer):
    from apps.activities.models import Activity

    Activity.objects.filter(activity_id=offer.activity_id).update(group_type=Activity.GroupType.AUTO_FORM)
    team_id = lock(offer, "demo1").team_id
    lock(offer, "demo2", team_id=team_id)
    settle(offer, "demo1")
    result = trade_timeouts_run(now=timezone.now() + timedelta(minutes=16))
    assert (result["completed"], result["released"]) == (1, 1)
    team = Team.objects.get(team_id=team_id)
    assert (team.status, team.complete_count, team.lock_count) == (Team.Status.COMPLETE, 1, 1)
    task = NotifyTask.objects.get(notify_category="trade_settlement")
    assert task.parameter_json["outTradeNoList"] == ["OTN-demo1"]


def test_full_story(offer, set_dcc):
    """One unpaid member times out, a newcomer takes the seat, all pay, then a paid member leaves."""
    team_id = lock(offer, "demo1").team_id
    lock(offer, "demo2", team_id=team_id)
    lock(offer, "demo3", team_id=team_id)
    settle(offer, "demo1")
    settle(offer, "demo3")
    set_dcc("lockTimeoutMinutes", "5")
    assert trade_timeouts_run(now=timezone.now() + timedelta(minutes=6))["released"] == 1  # demo2 never paid
    consume_refund_messages()
    lock(offer, "demo4", team_id=team_id)  # takes the freed seat
    settle(offer, "demo4")
    team = Team.objects.get(team_id=team_id)
    assert (team.status, team.complete_count) == (Team.Status.COMPLETE, 3)
    assert refund(offer, "demo3").strategy == "paid_formed"
    team.refresh_from_db()
    assert (team.status, team.lock_count, team.complete_count) == (Team.Status.COMPLETE_WITH_REFUND, 2, 2)
    assert NotifyTask.objects.filter(notify_category="trade_paid_team2refund").exists()
    assert_trade_invariants()
