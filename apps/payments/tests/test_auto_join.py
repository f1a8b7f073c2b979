"""One-click "join the team closest to full": the pick (a selector), the mall API's ``autoJoin`` and the goods
page's button. The race of many auto-joiners on real services is in test_auto_join_concurrency.py."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from apps.activities.models import Activity
from apps.activities.tests.factories import Offer
from apps.payments import orders as mall_orders
from apps.payments.models import PayOrder
from apps.payments.orders import mall_order_auto_join
from apps.payments.tests.helpers import create_order, login, mobile_client, user
from apps.trade.models import Order, Team
from apps.trade.selectors import auto_join_candidates
from apps.trade.tests.invariants import assert_trade_invariants

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/mall/orders"


def team_of(offer: Offer, *users: str) -> str:
    """A mall team of ``offer``: the first user opens it, the others join."""
    leader = create_order(users[0], offer.goods_id)
    for joiner in users[1:]:
        create_order(joiner, offer.goods_id, team_id=leader.team_id)
    return leader.team_id


def expire(team_id: str) -> None:
    now = timezone.now()
    Team.objects.filter(team_id=team_id).update(valid_start_time=now - timedelta(minutes=20),
                                                valid_end_time=now - timedelta(seconds=1))  # fmt: skip


def candidates(offer: Offer, user_id: str) -> list[str]:
    return auto_join_candidates(
        activity_id=offer.activity_id, source=offer.source, channel=offer.channel, user_id=user_id
    )


def auto_join(username: str, offer: Offer, key: str | None = None) -> dict:
    headers = {"Idempotency-Key": key} if key else {}
    return mobile_client(username).post(ORDERS, {"goodsId": offer.goods_id, "autoJoin": True}, format="json",
                                        headers=headers).json()  # fmt: skip


@pytest.fixture
def three_teams(mall_offer) -> tuple[str, str, str]:
    """Of 4 seats: one team with 1 member, then two with 3 (the later of them ending first)."""
    Activity.objects.filter(pk=mall_offer.activity.pk).update(target=4)
    lonely = team_of(mall_offer, "a1")
    fuller = team_of(mall_offer, "b1", "b2", "b3")
    fullest = team_of(mall_offer, "c1", "c2", "c3")
    Team.objects.filter(team_id=fullest).update(valid_end_time=timezone.now() + timedelta(minutes=5))
    return fullest, fuller, lonely


# --- the pick ------------------------------------------------------------------------------------------------


def test_the_pick_is_most_seats_taken_then_the_earliest_deadline_in_one_query(
    three_teams, mall_offer, django_assert_num_queries
):
    with django_assert_num_queries(1):
        assert candidates(mall_offer, "newcomer") == list(three_teams)


def test_the_pick_skips_the_users_own_teams_and_teams_that_cannot_take_anyone(three_teams, mall_offer):
    fullest, fuller, lonely = three_teams
    assert candidates(mall_offer, "c2") == [fuller, lonely]  # c2 sits in the fullest already
    Team.objects.filter(team_id=fuller).update(status=Team.Status.FAILED)
    expire(lonely)
    assert candidates(mall_offer, "c2") == []
    create_order("d1", mall_offer.goods_id, team_id=fullest)  # now full
    assert candidates(mall_offer, "newcomer") == []


def test_the_pick_sees_only_the_channels_teams_of_the_activity(three_teams, mall_offer):
    assert auto_join_candidates(activity_id=mall_offer.activity_id, source="s99", channel="c99", user_id="x") == []
    assert auto_join_candidates(activity_id=1, source=mall_offer.source, channel=mall_offer.channel, user_id="x") == []


# --- the mall API --------------------------------------------------------------------------------------------


def test_auto_join_takes_a_seat_in_the_fullest_team(three_teams, mall_offer):
    fullest, _, _ = three_teams
    body = auto_join("newcomer", mall_offer)
    assert body["code"] == "0000"
    data = body["data"]
    assert (data["teamId"], data["autoJoined"], data["status"], data["payAmount"]) == (
        fullest, True, "PAY_WAIT", "80.00"
    )  # fmt: skip
    assert Team.objects.get(team_id=fullest).lock_count == 4
    assert Order.objects.get(out_trade_no=data["orderId"]).team_id == fullest
    assert_trade_invariants()


def test_with_no_team_to_join_auto_join_opens_one_and_says_so(mall_offer):
    data = auto_join("newcomer", mall_offer)["data"]
    assert data["autoJoined"] is False
    team = Team.objects.get(team_id=data["teamId"])
    assert (team.lock_count, Order.objects.filter(team=team).get().user_id) == (1, "newcomer")


def test_an_order_without_auto_join_answers_auto_joined_false(mall_offer):
    leader = create_order("a1", mall_offer.goods_id)
    data = mobile_client("b1").post(ORDERS, {"goodsId": mall_offer.goods_id, "teamId": leader.team_id},
                                    format="json").json()["data"]  # fmt: skip
    assert (data["teamId"], data["autoJoined"]) == (leader.team_id, False)


def test_team_id_and_auto_join_together_are_refused_with_a_field_error(mall_offer):
    leader = create_order("a1", mall_offer.goods_id)
    response = mobile_client("b1").post(
        ORDERS, {"goodsId": mall_offer.goods_id, "teamId": leader.team_id, "autoJoin": True}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "0002")
    assert list(response.json()["data"]) == ["autoJoin"]
    assert not PayOrder.objects.filter(user__username="b1").exists()
    bad = mobile_client("b1").post(ORDERS, {"goodsId": mall_offer.goods_id, "autoJoin": "maybe"}, format="json")
    assert (bad.status_code, bad.json()["code"], list(bad.json()["data"])) == (400, "0002", ["autoJoin"])


def test_a_retry_with_the_same_key_answers_the_same_order_and_seat(three_teams, mall_offer):
    fullest, _, _ = three_teams
    first = auto_join("newcomer", mall_offer, key="auto-1")
    again = auto_join("newcomer", mall_offer, key="auto-1")
    assert first == again and first["data"]["teamId"] == fullest and first["data"]["autoJoined"] is True
    assert PayOrder.objects.filter(user__username="newcomer").count() == 1
    assert Order.objects.filter(user_id="newcomer").count() == 1
    opened = auto_join("loner", mall_offer, key="auto-2")  # fullest is full now: the next one, fuller
    assert auto_join("loner", mall_offer, key="auto-2") == opened


def test_a_retry_after_the_seat_was_locked_but_the_answer_lost_resumes_that_seat(three_teams, mall_offer, monkeypatch):
    """The lock committed, then the process died before PAY_WAIT: the retry replays the lock, not a new seat."""
    fullest, _, _ = three_teams
    real = mall_orders.pay_order_transition
    calls = {"n": 0}

    def crash_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(mall_orders, "pay_order_transition", crash_once)
    shopper = user("newcomer")
    with pytest.raises(ConnectionError):
        mall_order_auto_join(user=shopper, goods_id=mall_offer.goods_id, idempotency_key="k")
    outcome = mall_order_auto_join(user=shopper, goods_id=mall_offer.goods_id, idempotency_key="k")
    assert (outcome.order.team_id, outcome.joined, outcome.order.status) == (fullest, True, PayOrder.Status.PAY_WAIT)
    assert Order.objects.filter(user_id="newcomer").count() == 1
    assert_trade_invariants()


def test_when_the_pick_fills_before_the_lock_the_next_team_is_tried(three_teams, mall_offer, monkeypatch):
    fullest, fuller, _ = three_teams
    real = mall_orders.auto_join_candidates

    def someone_faster(**kwargs):
        picked = real(**kwargs)
        create_order("faster", mall_offer.goods_id, team_id=picked[0])  # takes the last seat meanwhile
        return picked

    monkeypatch.setattr(mall_orders, "auto_join_candidates", someone_faster)
    data = auto_join("newcomer", mall_offer)["data"]
    assert (data["teamId"], data["autoJoined"]) == (fuller, True)
    assert Team.objects.get(team_id=fullest).lock_count == 4
    assert not PayOrder.objects.filter(user__username="newcomer").exclude(status=PayOrder.Status.PAY_WAIT).exists()
    assert_trade_invariants()


def test_when_every_pick_filled_or_closed_a_new_team_is_opened(mall_offer, monkeypatch):
    only = team_of(mall_offer, "a1", "a2")
    closed = team_of(mall_offer, "b1")
    real = mall_orders.auto_join_candidates

    def everything_moves(**kwargs):
        picked = real(**kwargs)
        create_order("faster", mall_offer.goods_id, team_id=only)
        expire(closed)
        return picked

    monkeypatch.setattr(mall_orders, "auto_join_candidates", everything_moves)
    data = auto_join("newcomer", mall_offer)["data"]
    assert data["autoJoined"] is False and data["teamId"] not in (only, closed)
    assert Team.objects.get(team_id=data["teamId"]).lock_count == 1
    assert_trade_invariants()


def test_other_refusals_are_the_answer(three_teams, mall_offer):
    create_order("newcomer", mall_offer.goods_id)  # take limit 1: used
    body = auto_join("newcomer", mall_offer)
    assert (body["code"], body["data"]) == ("E0103", None)
    assert Team.objects.get(team_id=three_teams[0]).lock_count == 3


def test_new_customers_only_opens_a_team_instead_of_trying_every_candidate(three_teams, mall_offer, monkeypatch):
    """A joiner refused as not new (E0107) could open a team: the leader is not restricted."""
    from apps.common.errors import GroupBuyError, ResponseCode

    real = mall_orders.order_lock
    tried: list[str | None] = []

    def joiners_refused(*, command):
        tried.append(command.team_id)
        if command.team_id:
            raise GroupBuyError(ResponseCode.E0107)
        return real(command=command)

    monkeypatch.setattr(mall_orders, "order_lock", joiners_refused)
    data = auto_join("newcomer", mall_offer)["data"]
    assert (data["autoJoined"], tried) == (False, [three_teams[0], None])


# --- the goods page ------------------------------------------------------------------------------------------


def test_the_goods_page_button_joins_the_fullest_team(client, three_teams, mall_offer):
    fullest, _, _ = three_teams
    login(client, "newcomer")
    html = client.get(f"/goods/{mall_offer.goods_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'action="/goods/{mall_offer.goods_id}/auto-join"' in html and "Join the team closest to full" in html
    response = client.post(f"/goods/{mall_offer.goods_id}/auto-join", {"idempotency_key": "page-1"},
                           HTTP_ACCEPT_LANGUAGE="en")  # fmt: skip
    order = PayOrder.objects.get(user__username="newcomer")
    assert (response.status_code, response["Location"]) == (302, f"/cashier/{order.order_id}")
    assert order.team_id == fullest
    cashier = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "You joined the team closest to full" in cashier
    again = client.post(f"/goods/{mall_offer.goods_id}/auto-join", {"idempotency_key": "page-1"})
    assert again["Location"] == f"/cashier/{order.order_id}"  # a double submit is the same order
    assert PayOrder.objects.filter(user__username="newcomer").count() == 1


def test_the_goods_page_button_needs_others_teams_a_login_and_csrf(three_teams, mall_offer):
    anonymous = Client()
    to_login = anonymous.post(f"/goods/{mall_offer.goods_id}/auto-join", {})
    assert to_login.status_code == 302 and to_login["Location"].startswith(settings.LOGIN_URL)
    strict = login(Client(enforce_csrf_checks=True), "newcomer")
    assert strict.post(f"/goods/{mall_offer.goods_id}/auto-join", {}).status_code == 403
    assert not PayOrder.objects.filter(user__username="newcomer").exists()
    browser = login(Client(), "newcomer")
    assert browser.get(f"/goods/{mall_offer.goods_id}/auto-join")["Location"] == f"/goods/{mall_offer.goods_id}"
    Team.objects.all().update(status=Team.Status.FAILED)
    html = browser.get(f"/goods/{mall_offer.goods_id}").content.decode()
    assert "auto-join" not in html  # no team to join: only "Open a team"


def test_the_goods_page_button_says_when_it_opened_a_team(client, mall_offer, monkeypatch):
    monkeypatch.setattr(mall_orders, "auto_join_candidates", lambda **kwargs: [])
    login(client, "newcomer")
    response = client.post(
        f"/goods/{mall_offer.goods_id}/auto-join", {"idempotency_key": "p"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    html = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No team had a seat left, so you opened a new one" in html
    assert Team.objects.get().lock_count == 1


# --- the contract --------------------------------------------------------------------------------------------


def test_the_openapi_schema_documents_auto_join_and_virtual_seats():
    import io
    import json

    from django.core.management import call_command

    out = io.StringIO()
    call_command("spectacular", "--format", "openapi-json", "--validate", "--fail-on-warn", stdout=out)
    components = json.loads(out.getvalue())["components"]["schemas"]
    request, created = components["OrderCreateInRequest"]["properties"], components["OrderCreatedOut"]
    assert request["autoJoin"]["type"] == "boolean" and "teamId" in request["autoJoin"]["description"]
    assert "autoJoined" in created["required"] and created["properties"]["autoJoined"]["type"] == "boolean"
    for name in ("TeamDetailOut", "TeamProgressOut"):
        virtual = components[name]["properties"]["virtualCount"]
        assert virtual["type"] == "integer" and "platform" in virtual["description"], name
