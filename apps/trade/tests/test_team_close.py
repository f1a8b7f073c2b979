"""A team closes when its last live order goes (apps/trade/refunds.py): never listed or joinable again.

Before, the leader cancelling the unpaid order of a new team left a "0/3, join" ghost team whose joiner
sat in a team with no leader.
"""

import json

import pytest
from django.core.management import call_command
from prometheus_client import REGISTRY

from apps.activities.tests.factories import Offer
from apps.channels.signing import signed_headers
from apps.common.errors import GroupBuyError
from apps.common.mq import TEAM_REFUND
from apps.notifications.consumers import message_apply
from apps.notifications.models import NotifyTask
from apps.trade.models import Order, Team
from apps.trade.selectors import joinable_teams, open_teams_for_user
from apps.trade.services import order_refund
from apps.trade.tests.helpers import lock_team, team_stock_read
from apps.trade.tests.invariants import assert_trade_invariants

pytestmark = pytest.mark.django_db

LOCK = "/api/v1/gbm/trade/lock_market_pay_order"
REFUND = "/api/v1/gbm/trade/refund_market_pay_order"
TRIAL = "/api/v1/gbm/index/query_group_buy_market_config"


def join(offer: Offer, user: str, team_id: str) -> str:
    """The code refusing ``user``'s join of ``team_id``."""
    with pytest.raises(GroupBuyError) as refused:
        lock_team(offer, (user,), team_id=team_id)
    return refused.value.code


def consume_refund_messages() -> None:
    for task in NotifyTask.objects.filter(notify_type="MQ", notify_mq=TEAM_REFUND):
        message_apply(routing_key=TEAM_REFUND, message_uuid=str(task.uuid), body=task.parameter_json)


def failed_teams() -> float:
    return REGISTRY.get_sample_value("gbm_teams_failed_total") or 0.0


def test_the_leader_cancelling_a_new_teams_unpaid_order_closes_it(offer):
    team_id = lock_team(offer, ("demo1",))
    before = failed_teams()
    outcome = order_refund(**offer.in_channel, out_trade_no="OTN-demo1", user_id="demo1")
    assert outcome.strategy == "unpaid_unlock"
    team = Team.objects.get(team_id=team_id)
    assert (team.status, team.lock_count) == (Team.Status.FAILED, 0)
    assert outcome.team.status == Team.Status.FAILED  # the refund's own answer (same transaction)
    assert failed_teams() == before + 1
    consume_refund_messages()
    assert team_stock_read(team_id=team_id).recovered == 0  # a closed team is offered no seat
    where = {"activity_id": offer.activity_id, "source": offer.source, "channel": offer.channel}
    assert joinable_teams(**where) == []
    assert open_teams_for_user(user_id="demo2", **where) == []
    assert open_teams_for_user(user_id="demo1", **where) == []
    assert join(offer, "demo2", team_id) == "E0005"
    assert not Order.objects.filter(user_id="demo2").exists()
    assert_trade_invariants()


def test_the_last_paid_member_leaving_an_unformed_team_closes_it(offer):
    from apps.trade.services import order_settle
    from apps.trade.settle import SettleCommand

    team_id = lock_team(offer, ("demo1", "demo2"))
    paid_at = Team.objects.get(team_id=team_id).valid_start_time
    order_settle(command=SettleCommand(user_id="demo1", **offer.in_channel, out_trade_no="OTN-demo1",
                                       out_trade_time=paid_at))  # fmt: skip
    order_refund(**offer.in_channel, out_trade_no="OTN-demo2")
    assert Team.objects.get(team_id=team_id).status == Team.Status.IN_PROGRESS  # demo1 (paid) is still in it
    assert order_refund(**offer.in_channel, out_trade_no="OTN-demo1").strategy == "paid_unformed"
    assert Team.objects.get(team_id=team_id).status == Team.Status.FAILED
    assert join(offer, "demo3", team_id) == "E0005"
    assert_trade_invariants()


def test_a_team_keeps_going_while_someone_is_left(offer):
    """The leader leaving alone does not close the team: the joiner's seat still counts."""
    team_id = lock_team(offer, ("demo1", "demo2"))
    order_refund(**offer.in_channel, out_trade_no="OTN-demo1", user_id="demo1")
    consume_refund_messages()
    assert Team.objects.get(team_id=team_id).status == Team.Status.IN_PROGRESS
    assert [row["team_id"] for row in joinable_teams(activity_id=offer.activity_id, **offer.in_channel)] == [team_id]
    assert_trade_invariants()


def test_a_closed_team_stays_closed_after_a_stock_rebuild(offer):
    team_id = lock_team(offer, ("demo1",))
    order_refund(**offer.in_channel, out_trade_no="OTN-demo1")
    consume_refund_messages()
    call_command("rebuild_team_stock")
    assert team_stock_read(team_id=team_id) == team_stock_read(team_id="nothing")  # no counters at all
    assert join(offer, "demo2", team_id) == "E0005"
    assert_trade_invariants()


# --- through the signed API, as a mall does ------------------------------------------------------------------


def signed(client, offer: Offer, path: str, body: dict):
    raw = json.dumps({"source": offer.source, "channel": offer.channel, **body}).encode()
    return client.post(path, data=raw, content_type="application/json",
                       headers=signed_headers(offer.secret, "POST", path, raw), HTTP_ACCEPT_LANGUAGE="en")  # fmt: skip


def test_signed_api_cancel_then_the_team_is_gone_from_the_trial_and_a_join_is_refused(
    client, offer, django_capture_on_commit_callbacks
):
    lock = {"activityId": offer.activity_id, "goodsId": offer.goods_id}
    opened = signed(client, offer, LOCK, {"userId": "demo1", "outTradeNo": "M-1", **lock}).json()
    team_id = opened["data"]["teamId"]
    listed = signed(client, offer, TRIAL, {"userId": "demo2", "goodsId": offer.goods_id}).json()["data"]["teamList"]
    assert [team["teamId"] for team in listed] == [team_id]

    with django_capture_on_commit_callbacks(execute=True):  # the list's cache is busted after the commit
        cancelled = signed(client, offer, REFUND, {"userId": "demo1", "outTradeNo": "M-1"}).json()
    assert (cancelled["code"], cancelled["data"]["info"]) == ("0000", "unpaid_unlock")
    trial = signed(client, offer, TRIAL, {"userId": "demo3", "goodsId": offer.goods_id}).json()[
        "data"
    ]  # demo2 is rate limited
    assert trial["teamList"] == []

    joined = signed(client, offer, LOCK, {"userId": "demo2", "outTradeNo": "M-2", "teamId": team_id, **lock}).json()
    assert (joined["code"], joined["info"]) == ("E0005", "the team has closed")
    assert not Order.objects.filter(out_trade_no="M-2").exists()
    assert_trade_invariants()


def test_goods_page_no_longer_lists_a_cancelled_new_team(
    client, mall_offer, tasks_run_inline, django_capture_on_commit_callbacks
):
    from apps.payments.tests.helpers import create_order, login

    goods_page = f"/goods/{mall_offer.goods_id}"
    order = create_order("ann", mall_offer.goods_id)
    team_id = order.team_id
    login(client, "bob")
    assert f'data-team-id="{team_id}"' in client.get(goods_page).content.decode()

    leader = login(type(client)(), "ann")
    with django_capture_on_commit_callbacks(execute=True):
        assert leader.post(f"/orders/{order.order_id}/refund").status_code == 302
    assert Team.objects.get(team_id=team_id).status == Team.Status.FAILED
    html = client.get(goods_page, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'data-team-id="{team_id}"' not in html

    with pytest.raises(GroupBuyError) as refused:
        create_order("bob", mall_offer.goods_id, team_id=team_id)
    assert refused.value.code == "E0005"
    assert_trade_invariants()
