"""Lock order through the service and the signed API: every rule of the chain, faults, rebuild."""

import json
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import DatabaseError, OperationalError, connection
from django.utils import timezone, translation

from apps.activities.models import Activity
from apps.activities.tests.factories import Offer, an_offer
from apps.channels.signing import signed_headers
from apps.common.errors import GroupBuyError
from apps.common.redis import get_redis
from apps.common.tests.round_trips import sent_together
from apps.tags.services import crowd_tag_add_members
from apps.tags.tests.factories import CrowdTagFactory
from apps.trade.apis import LockOut
from apps.trade.lock import LockCommand
from apps.trade.models import NotifyType, Order, Team
from apps.trade.services import order_lock
from apps.trade.tests.helpers import team_stock_read
from apps.trade.tests.invariants import assert_trade_invariants

pytestmark = pytest.mark.django_db

URL = "/api/v1/gbm/trade/lock_market_pay_order"


def lock(offer: Offer, user_id="demo1", out_trade_no=None, team_id=None, goods_id=None, activity_id=None, **kwargs):
    """Lock an order of ``offer`` (its goods and activity unless ``goods_id`` / ``activity_id`` say otherwise)."""
    goods_id = goods_id or offer.goods_id
    return order_lock(
        command=LockCommand(
            user_id=user_id, source=offer.source, channel=offer.channel, goods_id=goods_id,
            activity_id=activity_id or offer.activity_id, out_trade_no=out_trade_no or f"OTN-{user_id}-{goods_id}",
            team_id=team_id, **kwargs,
        )
    )  # fmt: skip


def refused(offer: Offer, **kwargs) -> str:
    with pytest.raises(GroupBuyError) as caught:
        lock(offer, **kwargs)
    return caught.value.code


def test_first_lock_opens_a_team(offer):
    before = timezone.now()
    result = lock(offer, user_id="demo1", notify_type=NotifyType.HTTP, notify_url="http://127.0.0.1:9/cb")
    team = Team.objects.get(team_id=result.team_id)
    order = Order.objects.get(order_id=result.order_id)
    assert re.fullmatch(r"\d{8}", result.team_id) and re.fullmatch(r"\d{12}", result.order_id)
    assert (team.lock_count, team.complete_count, team.target_count, team.status) == (1, 0, 3, 0)
    assert before + timedelta(minutes=15) <= team.valid_end_time <= timezone.now() + timedelta(minutes=15)
    assert (team.notify_type, team.notify_url) == ("HTTP", "http://127.0.0.1:9/cb")
    assert (order.status, str(order.pay_price), order.biz_id) == (0, "80.00", f"{offer.activity_id}_demo1_1")
    assert (str(result.original_price), str(result.deduction_price)) == ("100.00", "20.00")
    assert_trade_invariants()


def test_joiners_take_seats_until_the_team_is_full(offer):
    team_id = lock(offer, user_id="demo1").team_id
    lock(offer, user_id="demo2", team_id=team_id)
    assert team_stock_read(team_id=team_id).joiners() == 1
    lock(offer, user_id="demo3", team_id=team_id)
    assert Team.objects.get(team_id=team_id).lock_count == 3
    assert refused(offer, user_id="demo4", team_id=team_id) == "E0006"
    assert_trade_invariants()


def test_a_retry_returns_the_same_order(offer):
    first = lock(offer, user_id="demo1", out_trade_no="RETRY-1")
    other = an_offer(credential=offer.credential)
    again = lock(other, user_id="demo1", out_trade_no="RETRY-1")
    assert again == first
    assert Order.objects.count() == 1


def test_the_lock_costs_a_fixed_number_of_queries(offer, django_assert_num_queries):
    """One read answers idempotency and the take limit together; an open is then BEGIN, two INSERTs, COMMIT; a
    join reads its team and UPDATEs it under the guard instead; a retry is the one read. Pinned, so it cannot creep."""
    lock(offer, user_id="demo9")  # warms the trial's caches (SKU, mapping, activity, DCC)
    with django_assert_num_queries(sent_together(2) + 2 + sent_together(2)):
        team_id = lock(offer, user_id="demo1").team_id
    with django_assert_num_queries(sent_together(3) + 2 + sent_together(2)):
        joined = lock(offer, user_id="demo2", team_id=team_id)
    with django_assert_num_queries(sent_together(3)):
        assert lock(offer, user_id="demo2", team_id=team_id) == joined
    assert_trade_invariants()


def test_another_user_cannot_reuse_an_out_trade_no(offer):
    lock(offer, user_id="demo1", out_trade_no="MINE")
    assert refused(offer, user_id="demo2", out_trade_no="MINE") == "0002"
    assert Order.objects.count() == 1


def test_take_limit(offer):
    lock(offer, user_id="demo1", out_trade_no="A")
    assert refused(offer, user_id="demo1", out_trade_no="B") == "E0103"


def test_unknown_foreign_and_expired_teams(offer):
    # An unknown team answers as another channel's team does (E0002, api.md "Channel isolation"): no oracle
    # tells a channel which team ids exist elsewhere.
    assert refused(offer, user_id="demo1", team_id="99999999") == "E0002"
    other = lock(an_offer(credential=offer.credential), user_id="demo2").team_id
    assert refused(offer, user_id="demo1", team_id=other) == "0002"  # a team of another activity
    team_id = lock(offer, user_id="demo3").team_id
    Team.objects.filter(team_id=team_id).update(valid_start_time=timezone.now() - timedelta(hours=1),
                                                valid_end_time=timezone.now() - timedelta(minutes=1))  # fmt: skip
    assert refused(offer, user_id="demo4", team_id=team_id) == "E0005"


def test_crowd_tag_and_activity_state(offer):
    crowd = CrowdTagFactory()
    crowd_tag_add_members(tag=crowd, user_ids=["member"])
    members_only = an_offer(credential=offer.credential, members_only=crowd)
    assert refused(members_only, user_id="demo1") == "E0007"
    assert lock(members_only, user_id="member").order_id
    Activity.objects.filter(activity_id=offer.activity_id).update(status=Activity.Status.CREATED)
    assert refused(offer, user_id="demo1") == "E0101"
    later = an_offer(credential=offer.credential)
    Activity.objects.filter(activity_id=later.activity_id).update(start_time=timezone.now() + timedelta(days=1))
    assert refused(later, user_id="demo1") == "E0102"


def test_activity_must_match_the_goods_mapping(offer):
    other = an_offer(credential=offer.credential)
    assert refused(offer, user_id="demo1", activity_id=other.activity_id) == "E0002"


def test_redis_stock_full_is_e0006_and_writes_nothing(offer):
    team_id = lock(offer, user_id="demo1").team_id
    get_redis().set(f"gbm:team_stock:{{{team_id}}}:occupied", 2)  # Redis believes both seats are gone
    assert refused(offer, user_id="demo2", team_id=team_id) == "E0006"
    assert Team.objects.get(team_id=team_id).lock_count == 1


def test_a_team_filled_after_the_check_is_e0006_at_the_database_guard_too(offer, monkeypatch):
    """Whichever guard finds the team full answers E0006 (apps.trade.lock docstring); it was E0005 here."""
    team_id = lock(offer, user_id="demo1").team_id
    seen_by_the_check = Team.objects.get(team_id=team_id)  # one of three seats taken: joinable
    lock(offer, user_id="demo2", team_id=team_id)
    lock(offer, user_id="demo3", team_id=team_id)
    get_redis().delete(f"gbm:team_stock:{{{team_id}}}:occupied")  # Redis lost its count: the database guard decides
    monkeypatch.setattr("apps.trade.lock._joinable_team", lambda command, team: seen_by_the_check)
    assert refused(offer, user_id="demo4", team_id=team_id) == "E0006"
    assert team_stock_read(team_id=team_id).joiners() == 0  # the seat Redis gave is given back
    assert Team.objects.get(team_id=team_id).lock_count == 3


def test_a_team_closed_after_the_check_stays_e0005_at_the_database_guard(offer, monkeypatch):
    team_id = lock(offer, user_id="demo1").team_id
    seen_by_the_check = Team.objects.get(team_id=team_id)
    Team.objects.filter(team_id=team_id).update(status=Team.Status.FAILED)
    monkeypatch.setattr("apps.trade.lock._joinable_team", lambda command, team: seen_by_the_check)
    with pytest.raises(GroupBuyError) as caught, translation.override("en"):
        lock(offer, user_id="demo2", team_id=team_id)
    assert (caught.value.code, caught.value.info) == ("E0005", "the team has closed")
    assert team_stock_read(team_id=team_id).joiners() == 0


@pytest.mark.django_db(transaction=True)
def test_a_deadlocked_lock_transaction_is_run_again(offer, monkeypatch):
    """The deadlock victim's transaction is rolled back by the server; the whole of it runs again."""
    from apps.common import rows

    calls = []
    run = getattr(connection, "run_statements", None)
    real = run if run is not None else rows._one_by_one

    def deadlocked_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError(1213, "Deadlock found when trying to get lock")
        return real(*args, **kwargs)

    if run is not None:  # MariaDB: one round trip for the transaction
        monkeypatch.setattr(connection, "run_statements", deadlocked_once)
    else:
        monkeypatch.setattr(rows, "_one_by_one", deadlocked_once)
    result = lock(offer, user_id="demo1")
    assert len(calls) == 2
    assert Order.objects.get(order_id=result.order_id).team_id == result.team_id
    assert_trade_invariants()


def test_a_database_failure_after_occupation_gives_the_seat_back(offer, monkeypatch):
    team_id = lock(offer, user_id="demo1").team_id

    def broken_id():
        raise DatabaseError("disk full")

    monkeypatch.setattr("apps.trade.lock.new_order_id", broken_id)
    with pytest.raises(DatabaseError):
        lock(offer, user_id="demo2", team_id=team_id)
    assert team_stock_read(team_id=team_id).joiners() == 0
    assert Team.objects.get(team_id=team_id).lock_count == 1  # the join was rolled back
    monkeypatch.undo()
    lock(offer, user_id="demo2", team_id=team_id)
    assert_trade_invariants()


def test_a_drawn_id_that_is_taken_is_drawn_again(offer, monkeypatch):
    first = lock(offer, user_id="demo1")
    taken_order_id = Order.objects.get(team_id=first.team_id).order_id
    team_ids = iter([first.team_id, "87654321", "87654322"])  # a new draw per attempt
    order_ids = iter([taken_order_id, taken_order_id, "123456789012"])
    monkeypatch.setattr("apps.trade.lock.new_team_id", lambda: next(team_ids))
    monkeypatch.setattr("apps.trade.lock.new_order_id", lambda: next(order_ids))
    second = lock(offer, user_id="demo2")  # team id taken, then the order id twice, then both free
    assert (second.team_id, second.order_id) == ("87654322", "123456789012")
    assert Team.objects.count() == 2 and Order.objects.count() == 2
    assert_trade_invariants()


def test_an_out_trade_no_taken_by_another_user_is_not_mistaken_for_an_id_collision(offer):
    lock(offer, user_id="demo1", out_trade_no="OTN-1")
    assert refused(offer, user_id="demo2", out_trade_no="OTN-1") == "0002"
    assert Order.objects.count() == 1


def test_redis_unreachable_refuses_joins_cleanly_and_still_opens_teams(offer, settings):
    team_id = lock(offer, user_id="demo1").team_id
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    assert refused(offer, user_id="demo2", team_id=team_id) == "0007"
    assert Team.objects.get(team_id=team_id).lock_count == 1
    assert not Order.objects.filter(user_id="demo2").exists()
    opened = lock(offer, user_id="demo3")  # a new team needs no seat counter
    assert Team.objects.get(team_id=opened.team_id).lock_count == 1


def test_rebuild_team_stock_restores_redis_from_the_database(offer):
    team_id = lock(offer, user_id="demo1").team_id
    lock(offer, user_id="demo2", team_id=team_id)
    get_redis().flushdb()
    call_command("rebuild_team_stock")
    assert team_stock_read(team_id=team_id).joiners() == 1
    lock(offer, user_id="demo3", team_id=team_id)  # the last seat, counted on the rebuilt stock
    assert team_stock_read(team_id=team_id).joiners() == 2
    assert_trade_invariants()


# --- the signed API ---------------------------------------------------------------------------


def post(client, offer: Offer, **overrides):
    """The signed lock request of ``offer``'s channel, its body as ``body`` builds it."""
    raw = json.dumps(body(offer, **overrides)).encode()
    headers = signed_headers(offer.secret, "POST", URL, raw)
    return client.post(URL, data=raw, content_type="application/json", headers=headers, HTTP_ACCEPT_LANGUAGE="en")


def body(offer: Offer, **overrides):
    data = {"userId": "demo1", "activityId": offer.activity_id, "goodsId": offer.goods_id, "source": offer.source,
            "channel": offer.channel, "outTradeNo": "API-1", "notifyConfigVO": {"notifyType": "MQ"}}  # fmt: skip
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_api_locks_and_replays(client, offer):
    first = post(client, offer).json()
    assert first["code"] == "0000", first
    data = first["data"]
    assert set(data) == {"orderId", "teamId", "originalPrice", "deductionPrice", "payPrice", "tradeOrderStatus"}
    assert (data["payPrice"], data["tradeOrderStatus"]) == ("80.00", 0)
    assert LockOut(data).data == data  # built by hand: it must read as the documented serializer writes it
    assert post(client, offer).json()["data"] == data
    join = post(client, offer, userId="demo2", outTradeNo="API-2", teamId=data["teamId"], notifyConfigVO=None)
    assert join.json()["data"]["teamId"] == data["teamId"]


def test_api_notify_config(client, offer):
    http = post(client, offer, notifyConfigVO={"notifyType": "HTTP", "notifyUrl": "http://127.0.0.1:8000/cb"})
    team = Team.objects.get(team_id=http.json()["data"]["teamId"])
    assert (team.notify_type, team.notify_url) == ("HTTP", "http://127.0.0.1:8000/cb")
    flat = post(client, offer, userId="demo2", outTradeNo="API-F", notifyConfigVO=None, notifyUrl="http://localhost/cb")
    assert Team.objects.get(team_id=flat.json()["data"]["teamId"]).notify_type == "HTTP"


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"activityId": None}, {"activityId"}),
        ({"activityId": "abc"}, {"activityId"}),
        ({"teamId": "123"}, {"teamId"}),
        ({"outTradeNo": ""}, {"outTradeNo"}),
        ({"notifyConfigVO": {"notifyType": "HTTP"}}, {"notifyUrl"}),
        ({"notifyConfigVO": {"notifyType": "SMS"}}, {"notifyConfigVO"}),
        ({"notifyUrl": "not a url", "notifyConfigVO": None}, {"notifyUrl"}),
    ],
)
def test_api_bad_input_is_0002(client, offer, overrides, fields):
    response = post(client, offer, **overrides)
    payload = response.json()
    assert (response.status_code, payload["code"]) == (400, "0002"), payload
    assert set(payload["data"]) == fields
    assert not Order.objects.exists()


def test_api_business_rejections_are_200_with_codes(client, offer):
    post(client, offer)
    limited = post(client, offer, outTradeNo="API-X")
    assert (limited.status_code, limited.json()["code"]) == (200, "E0103")
    stolen = post(client, offer, userId="demo2")
    assert (stolen.status_code, stolen.json()["code"]) == (400, "0002")


def test_api_requires_a_signature(client, offer):
    response = client.post(URL, data=json.dumps(body(offer)), content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (401, "E0201")


@pytest.mark.django_db(transaction=True)  # on MariaDB the write is then its own one-round-trip transaction
def test_a_join_whose_team_filled_after_its_checks_is_e0006_and_writes_nothing(offer, monkeypatch):
    """The database's guard is the last word: the seat UPDATE matches nothing, so the order INSERT behind it is
    skipped in the same transaction, and the Redis seat goes back."""
    from apps.trade import lock as lock_module

    team_id = lock(offer, user_id="leader").team_id
    occupy = lock_module._occupy_seat

    def filled_meanwhile(*args, **kwargs):
        taken = occupy(*args, **kwargs)
        Team.objects.filter(team_id=team_id).update(lock_count=3)  # two joins of other processes won
        return taken

    monkeypatch.setattr(lock_module, "_occupy_seat", filled_meanwhile)
    assert refused(offer, user_id="late", team_id=team_id) == "E0006"
    assert not Order.objects.filter(user_id="late").exists()
    assert Team.objects.get(team_id=team_id).lock_count == 3
    assert team_stock_read(team_id=team_id).joiners() == 0  # the seat it took is back
