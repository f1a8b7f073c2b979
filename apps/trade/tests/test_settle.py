"""Settlement through the service and the signed API: every rejection, idempotency, completion."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.activities.tests.factories import Offer
from apps.channels.signing import signed_headers
from apps.common.errors import GroupBuyError
from apps.common.tests.round_trips import sent_together
from apps.notifications.models import NotifyTask
from apps.trade.apis import SettleOut, TeamProgressOut
from apps.trade.models import NotifyType, Order, Team
from apps.trade.services import order_settle
from apps.trade.settle import SettleCommand
from apps.trade.tests.helpers import lock_team
from apps.trade.tests.invariants import assert_trade_invariants

pytestmark = pytest.mark.django_db

SETTLE_URL = "/api/v1/gbm/trade/settlement_market_pay_order"
PROGRESS_URL = "/api/v1/gbm/trade/team_progress"


def settle(offer: Offer, user_id, paid_at=None, out_trade_no=None):
    return order_settle(
        command=SettleCommand(
            user_id=user_id, source=offer.source, channel=offer.channel,
            out_trade_no=out_trade_no or f"OTN-{user_id}", out_trade_time=paid_at or timezone.now(),
        )
    )  # fmt: skip


def refused(offer: Offer, user_id, **kwargs) -> str:
    with pytest.raises(GroupBuyError) as caught:
        settle(offer, user_id, **kwargs)
    return caught.value.code


@pytest.fixture
def full_team(offer):
    """A team of ``offer``'s 3 seats, all locked and unpaid, calling back over HTTP; each order is OTN-<user>."""
    return lock_team(offer, ("demo1", "demo2", "demo3"), notify_type=NotifyType.HTTP,
                     notify_url="http://127.0.0.1:9/cb")  # fmt: skip


def test_the_last_payment_completes_the_team_and_writes_one_notify_task(offer, full_team):
    settle(offer, "demo1")
    settle(offer, "demo2")
    assert Team.objects.get(team_id=full_team).status == Team.Status.IN_PROGRESS
    assert not NotifyTask.objects.exists()
    result = settle(offer, "demo3")
    assert (result.team_id, result.activity_id, result.out_trade_no) == (full_team, offer.activity_id, "OTN-demo3")
    team = Team.objects.get(team_id=full_team)
    assert (team.status, team.complete_count) == (Team.Status.COMPLETE, 3)
    task = NotifyTask.objects.get()
    assert (task.notify_category, task.notify_type, task.notify_url) == (
        "trade_settlement", "HTTP", "http://127.0.0.1:9/cb",
    )  # fmt: skip
    paid = ["OTN-demo1", "OTN-demo2", "OTN-demo3"]
    assert task.parameter_json == {
        "source": offer.source, "channel": offer.channel, "teamId": full_team, "outTradeNoList": paid,
    }  # fmt: skip
    assert_trade_invariants()


def test_settle_costs_a_fixed_number_of_queries(offer, full_team, django_assert_num_queries):
    """A payment is one transaction: the order's and the team's guarded UPDATEs, then the order read back with its
    team (on MariaDB one round trip with the BEGIN), COMMIT; the one that fills the team also marks it complete,
    reads the paid orders and writes the outbox row. A replay's team UPDATE is skipped (its order's matched
    nothing). Here inside the test's transaction: a savepoint and its release around each. Pinned."""
    with django_assert_num_queries(2 + sent_together(3)):
        settle(offer, "demo1")
    with django_assert_num_queries(2 + sent_together(3)):
        settle(offer, "demo2")
    with django_assert_num_queries(2 + sent_together(3) + sent_together(2) + 1):
        settle(offer, "demo3")
    with django_assert_num_queries(2 + sent_together(2)):
        settle(offer, "demo3")
    assert Team.objects.get(team_id=full_team).status == Team.Status.COMPLETE
    assert NotifyTask.objects.count() == 1
    assert_trade_invariants()


def test_the_payment_that_fills_the_team_completes_it_whatever_the_order_of_payments(offer, full_team):
    """The count is read back after this payment's UPDATE, under the team row's lock: the last seat paid completes
    the team, once, whichever order the seats are paid in."""
    for user in ("demo3", "demo1"):
        settle(offer, user)
        assert Team.objects.get(team_id=full_team).status == Team.Status.IN_PROGRESS
    settle(offer, "demo2")
    team = Team.objects.get(team_id=full_team)
    assert (team.status, team.complete_count) == (Team.Status.COMPLETE, 3)
    assert NotifyTask.objects.get().parameter_json["outTradeNoList"] == ["OTN-demo3", "OTN-demo1", "OTN-demo2"]
    assert_trade_invariants()


def test_settling_again_changes_nothing_and_answers_the_same(offer, full_team):
    first = settle(offer, "demo1")
    order = Order.objects.get(out_trade_no="OTN-demo1")
    again = settle(offer, "demo1", paid_at=timezone.now() + timedelta(minutes=1))
    assert again == first
    assert Order.objects.get(pk=order.pk).out_trade_time == order.out_trade_time
    assert Team.objects.get(team_id=full_team).complete_count == 1


def test_mq_team_gets_a_routing_key(offer):
    lock_team(offer, ("demo1", "demo2", "demo3"))  # no notify config: MQ
    for user in ("demo1", "demo2", "demo3"):
        settle(offer, user)
    task = NotifyTask.objects.get()
    assert (task.notify_type, task.notify_mq, task.notify_url) == ("MQ", "topic.team_success", "")


def test_blacklisted_channel_is_e0105(offer, set_dcc):
    lock_team(offer, ("demo1",))
    set_dcc("scBlacklist", f"{offer.source}{offer.channel}")
    assert refused(offer, "demo1") == "E0105"


def test_unknown_refunded_and_foreign_orders(offer, full_team):
    assert refused(offer, "demo1", out_trade_no="NOPE") == "E0104"
    Order.objects.filter(out_trade_no="OTN-demo2").update(status=Order.Status.REFUNDED)
    assert refused(offer, "demo2") == "E0104"
    assert refused(offer, "demo9", out_trade_no="OTN-demo1") == "0002"


def test_payment_after_the_team_expired_is_e0106(offer, full_team):
    team = Team.objects.get(team_id=full_team)
    assert refused(offer, "demo1", paid_at=team.valid_end_time + timedelta(seconds=1)) == "E0106"
    assert settle(offer, "demo1", paid_at=team.valid_end_time).team_id == full_team


def test_team_no_longer_in_progress_is_e0104(offer, full_team):
    Team.objects.filter(team_id=full_team).update(status=Team.Status.FAILED)
    assert refused(offer, "demo1") == "E0104"


# --- the signed API ---------------------------------------------------------------------------


def signed_post(client, offer: Offer, url: str, body: dict):
    raw = json.dumps(body).encode()
    headers = signed_headers(offer.secret, "POST", url, raw)
    return client.post(url, data=raw, content_type="application/json", headers=headers, HTTP_ACCEPT_LANGUAGE="en")


def signed_get(client, offer: Offer, url: str, query: str):
    headers = signed_headers(offer.secret, "GET", url, b"")
    return client.get(f"{url}?{query}", headers=headers)


def test_api_settles_with_the_references_time_format_and_replays(client, offer, full_team):
    body = {"userId": "demo1", "source": offer.source, "channel": offer.channel, "outTradeNo": "OTN-demo1",
            "outTradeTime": timezone.localtime().strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
    first = signed_post(client, offer, SETTLE_URL, body).json()
    assert first == {
        "code": "0000", "info": first["info"],
        "data": {"userId": "demo1", "teamId": full_team, "activityId": offer.activity_id, "outTradeNo": "OTN-demo1"},
    }  # fmt: skip
    assert SettleOut(first["data"]).data == first["data"]  # built by hand: it must read as the serializer writes it
    assert signed_post(client, offer, SETTLE_URL, body).json()["data"] == first["data"]
    iso = dict(body, userId="demo2", outTradeNo="OTN-demo2", outTradeTime=timezone.now().isoformat())
    assert signed_post(client, offer, SETTLE_URL, iso).json()["code"] == "0000"


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [({"outTradeTime": "yesterday"}, {"outTradeTime"}), ({"outTradeNo": None}, {"outTradeNo"}),
     ({"userId": 7.5, "outTradeTime": 3}, {"outTradeTime"}),
     ({"outTradeTime": "0001-01-01 00:00:00"}, {"outTradeTime"})],  # out of range in Asia/Shanghai, not a 500
)  # fmt: skip
def test_api_bad_input_is_0002(client, offer, full_team, overrides, fields):
    body = {"userId": "demo1", "source": offer.source, "channel": offer.channel, "outTradeNo": "OTN-demo1",
            "outTradeTime": "2026-01-01 10:00:00", **overrides}  # fmt: skip
    body = {k: v for k, v in body.items() if v is not None}
    response = signed_post(client, offer, SETTLE_URL, body)
    assert (response.status_code, response.json()["code"]) == (400, "0002")
    assert set(response.json()["data"]) == fields


def test_team_progress(client, offer, full_team):
    settle(offer, "demo1")
    data = signed_get(
        client, offer, PROGRESS_URL, f"teamId={full_team}&source={offer.source}&channel={offer.channel}"
    ).json()["data"]
    assert {k: data[k] for k in ("teamId", "status", "targetCount", "lockCount", "completeCount")} == {
        "teamId": full_team, "status": 0, "targetCount": 3, "lockCount": 3, "completeCount": 1,
    }  # fmt: skip
    team = Team.objects.get(team_id=full_team)
    # Built by hand: it must be what the documented serializer writes, the time's format and zone included.
    assert data == TeamProgressOut({
        "teamId": team.team_id, "status": team.status, "targetCount": team.target_count, "lockCount": team.lock_count,
        "completeCount": team.complete_count, "virtualCount": team.virtual_count, "validEndTime": team.valid_end_time,
    }).data  # fmt: skip
    other = signed_get(client, offer, PROGRESS_URL, f"teamId=12345678&source={offer.source}&channel={offer.channel}")
    assert (other.status_code, other.json()["code"]) == (400, "0002")
