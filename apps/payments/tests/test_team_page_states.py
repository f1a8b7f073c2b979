"""The team share page in each state, the anonymous preview of a shared link, joining your own team,
and "buy alone at full price" through the pages."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from apps.activities.tests.factories import an_offer
from apps.common.mq import TEAM_REFUND
from apps.payments.models import PayOrder, RefundRecord
from apps.payments.orders import mall_order_create_alone, mall_order_refund_request
from apps.payments.tests.helpers import create_order, login, mobile_client, user
from apps.payments.tests.test_pages import buy, pay
from apps.payments.tests.test_refunds import deliver_bus_messages
from apps.trade.models import Order, Team
from apps.trade.tests.factories import TeamFactory
from apps.trade.timeouts import trade_timeouts_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(mall_offer, tasks_run_inline, notify_via_test_client, django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def page(client: Client, url: str) -> str:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200, url
    return response.content.decode()


# --- the shared link, not logged in --------------------------------------------------------------------------


def test_a_shared_link_opens_a_preview_for_visitors_who_are_not_logged_in(client, mall_offer):
    order = create_order("xiaofuge", mall_offer.goods_id)
    html = page(client, f"/teams/{order.team_id}")
    team = Team.objects.get(team_id=order.team_id)
    assert mall_offer.sku.goods_name in html and "¥80.00" in html and "¥100.00" in html
    assert "2 seats left" in html and f'data-valid-end="{team.valid_end_time.isoformat()}"' in html
    assert f'href="{settings.LOGIN_URL}?next=%2Fteams%2F{order.team_id}"' in html and "Log in to join" in html
    assert ">Join</button>" not in html  # a visitor logs in first
    # Masked, and no order ids of others (the team's out_trade_no is the mall order id).
    assert "xi***ge" in html and "xiaofuge" not in html
    assert order.order_id not in html and Order.objects.get(team_id=order.team_id).order_id not in html


def test_log_in_to_join_comes_back_to_the_team_page(client, mall_offer):
    order = create_order("xiaofuge", mall_offer.goods_id)
    user("liergou")  # the factory's password: "pw"
    response = client.post(
        f"{settings.LOGIN_URL}?next=/teams/{order.team_id}", {"username": "liergou", "password": "pw"}
    )
    assert (response.status_code, response.url) == (302, f"/teams/{order.team_id}")
    assert ">Join</button>" in page(client, response.url)


def test_the_team_page_shows_only_the_malls_own_channel(client, mall_offer):
    other = TeamFactory(activity_id=mall_offer.activity_id, source="s02", channel="c02")
    assert client.get(f"/teams/{other.team_id}").status_code == 404
    login(client, "xiaofuge")
    assert client.get(f"/teams/{other.team_id}").status_code == 404


# --- waiting: avatars, "?" seats, progress, countdown, invite and share -----------------------------------------


def test_waiting_shows_avatars_empty_seats_progress_and_the_share_button(client, mall_offer):
    order = create_order("xiaofuge", mall_offer.goods_id)
    create_order("liergou", mall_offer.goods_id, team_id=order.team_id)
    login(client, "xiaofuge")
    html = page(client, f"/teams/{order.team_id}")
    assert 'data-state="waiting"' in html
    assert html.count('class="seat-avatar"') == 3 and html.count("empty-seat") == 1
    assert re.search(r'class="seat member mine leader">\s*<span class="seat-avatar" aria-hidden="true">X</span>', html)
    assert ">L</span>" in html and "li***ou" in html and "liergou" not in html
    assert 'aria-valuenow="2"' in html and "width: 66%" in html
    assert "1 seat left" in html and "Invite 1 more friend to complete the team." in html
    assert f'data-share-url="http://testserver/teams/{order.team_id}"' in html and "js/share.js" in html
    assert f'data-qr-for="http://testserver/teams/{order.team_id}"' in html


def test_a_shopper_who_used_up_the_take_limit_is_told_instead_of_join(client, mall_offer):
    order = create_order("xiaofuge", mall_offer.goods_id)
    create_order("liergou", mall_offer.goods_id)  # liergou's own team: the offer's take limit is 1
    login(client, "liergou")
    html = page(client, f"/teams/{order.team_id}")
    assert ">Join</button>" not in html and "You have used up this offer" in html


# --- complete and failed ------------------------------------------------------------------------------------


def test_a_complete_team_shows_success_without_invite_or_share(mall_offer, shop):
    team_id = ""
    for username in ("demo1", "demo2", "demo3"):
        browser = login(Client(), username)
        order_id = buy(browser, mall_offer.goods_id, team_id=team_id).rsplit("/", 1)[1]
        pay(browser, order_id, shop)
        team_id = PayOrder.objects.get(order_id=order_id).team_id
    html = page(browser, f"/teams/{team_id}")
    assert 'data-state="complete"' in html and "Team complete!" in html
    assert "Your group-buy price is confirmed" in html
    assert "Invite" not in html and "share-button" not in html and "data-qr-for" not in html
    assert "empty-seat" not in html and "width: 100%" in html
    visitor = page(Client(), f"/teams/{team_id}")
    assert "This team is full. Open your own team" in visitor and "Log in to join" not in visitor


def test_a_failed_team_says_it_did_not_fill_and_what_came_back(mall_offer, shop):
    browser = login(Client(), "demo1")
    order_id = buy(browser, mall_offer.goods_id).rsplit("/", 1)[1]
    pay(browser, order_id, shop)
    order = PayOrder.objects.get(order_id=order_id)
    with shop(execute=True):
        trade_timeouts_run(now=timezone.now() + timedelta(minutes=16))
    deliver_bus_messages(TEAM_REFUND, shop)  # the mall consumer: close the order, return the money
    assert Team.objects.get(team_id=order.team_id).status == Team.Status.FAILED
    record = RefundRecord.objects.get(pay_order_id=order_id, status=RefundRecord.Status.SUCCESS)
    html = page(browser, f"/teams/{order.team_id}")
    assert 'data-state="failed"' in html and "This team did not fill in time." in html
    assert f"¥{record.amount} was refunded to you on" in html and "¥80.00" in html
    # The date as /orders writes it (one format for one fact; "10:24 a.m.." read as a typo).
    when = timezone.localtime(record.refunded_at).strftime("%Y-%m-%d %H:%M")
    assert f"was refunded to you on {when}.</p>" in html
    assert "share-button" not in html and "Invite" not in html and ">Join</button>" not in html
    assert "Everyone who paid gets their money back in full." in page(Client(), f"/teams/{order.team_id}")


def test_a_failed_team_shows_who_held_a_seat_when_it_ran_out_of_time(mall_offer, shop, monkeypatch):
    leader = login(Client(), "demo1")
    order_id = buy(leader, mall_offer.goods_id).rsplit("/", 1)[1]
    pay(leader, order_id, shop)
    team_id = PayOrder.objects.get(order_id=order_id).team_id
    buy(login(Client(), "demo2"), mall_offer.goods_id, team_id=team_id)  # holds a seat, never pays
    gone = buy(login(Client(), "demo3"), mall_offer.goods_id, team_id=team_id).rsplit("/", 1)[1]
    with shop(execute=True):
        mall_order_refund_request(user=user("demo3"), order_id=gone)  # leaves before the deadline
    deliver_bus_messages(TEAM_REFUND, shop)
    after = Team.objects.get(team_id=team_id).valid_end_time + timedelta(minutes=1)
    with monkeypatch.context() as clock:
        clock.setattr(timezone, "now", lambda: after)  # the job runs after the deadline, as beat runs it
        with shop(execute=True):
            trade_timeouts_run(now=after)
        deliver_bus_messages(TEAM_REFUND, shop)
    team = Team.objects.get(team_id=team_id)
    assert team.status == Team.Status.FAILED and team.lock_count == 0  # every seat given back
    html = page(leader, f"/teams/{team_id}")
    assert 'data-state="failed"' in html and "2/3 joined" in html
    assert 'aria-valuenow="2"' in html and "width: 66%" in html
    assert html.count('<li class="seat member') == 2 and "de***o1 (you)" in html and "de***o2" in html
    assert "de***o3" not in html  # left before the team ran out of time
    assert "empty-seat" not in html and "not paid yet" not in html


# --- joining your own team, codes never shown -------------------------------------------------------------------


def test_joining_your_own_team_says_so(client, mall_offer):
    order = create_order("xiaofuge", mall_offer.goods_id)
    login(client, "xiaofuge")
    response = client.post(
        f"/goods/{mall_offer.goods_id}/buy", {"team_id": order.team_id}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.redirect_chain == [(f"/teams/{order.team_id}", 302)]
    html = response.content.decode()
    assert "You are already in this team." in html and 'class="message error"' in html
    assert not re.search(r"\bE0\d{3}\b", html)
    assert PayOrder.objects.filter(user__username="xiaofuge").count() == 1


@pytest.mark.parametrize("take_limit", [1, 2])
def test_joining_your_own_team_is_refused_whatever_the_take_limit(mall_offer, take_limit):
    from apps.activities.models import Activity
    from apps.common.errors import GroupBuyError

    Activity.objects.filter(activity_id=mall_offer.activity_id).update(take_limit_count=take_limit)
    order = create_order("xiaofuge", mall_offer.goods_id)
    with pytest.raises(GroupBuyError) as refused:
        create_order("xiaofuge", mall_offer.goods_id, team_id=order.team_id)
    assert refused.value.data == {"reason": "already_in_team"}
    assert Order.objects.filter(user_id="xiaofuge").count() == 1


# --- buy alone at full price ------------------------------------------------------------------------------------


def test_buy_alone_pays_the_full_price_without_a_team_and_is_done_on_payment(client, mall_offer, shop):
    login(client, "xiaofuge")
    response = client.post(f"/goods/{mall_offer.goods_id}/buy-alone", {"idempotency_key": "alone-1"})
    order = PayOrder.objects.get(user__username="xiaofuge")
    assert (response.status_code, response.url) == (302, f"/cashier/{order.order_id}")
    assert (order.market_type, order.status, order.team_id) == (PayOrder.MarketType.NONE, PayOrder.Status.PAY_WAIT, "")
    assert (order.total_amount, order.market_deduction_amount, order.pay_amount) == (100, 0, 100)
    assert "Pay ¥100.00" in page(client, f"/cashier/{order.order_id}")
    # The same page submitted twice is one order; no group-buy seat is taken.
    client.post(f"/goods/{mall_offer.goods_id}/buy-alone", {"idempotency_key": "alone-1"})
    assert PayOrder.objects.count() == 1 and not Order.objects.exists() and not Team.objects.exists()

    pay(client, order.order_id, shop)
    order.refresh_from_db()
    assert order.status == PayOrder.Status.DEAL_DONE and order.trade_no
    assert not Order.objects.exists()
    for url in (f"/cashier/{order.order_id}", "/orders"):  # confirmed, with no team to wait for or invite to
        html = page(client, url)
        assert "Bought at the full price. Your order is confirmed." in html
        assert "Invite friends" not in html and "Refund in progress" not in html


def test_buy_alone_is_offered_even_when_the_take_limit_is_used_up(client, mall_offer):
    create_order("xiaofuge", mall_offer.goods_id)
    login(client, "xiaofuge")
    client.post(f"/goods/{mall_offer.goods_id}/buy-alone", {})
    assert PayOrder.objects.filter(market_type=PayOrder.MarketType.NONE).count() == 1


def test_buy_alone_of_goods_the_mall_does_not_sell_says_so(client, mall_offer):
    login(client, "xiaofuge")
    response = client.post("/goods/nope/buy-alone", {}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert not PayOrder.objects.exists()
    assert response.redirect_chain[0] == ("/goods/nope", 302)


def test_an_idempotency_key_of_a_team_order_is_not_reused_for_buying_alone(mall_offer):
    from apps.common.errors import GroupBuyError

    create_order("xiaofuge", mall_offer.goods_id, idempotency_key="k1")
    with pytest.raises(GroupBuyError) as refused:
        mall_order_create_alone(user=user("xiaofuge"), goods_id=mall_offer.goods_id, idempotency_key="k1")
    assert refused.value.code == "0002"
    alone = mall_order_create_alone(user=user("liergou"), goods_id=mall_offer.goods_id, idempotency_key="k2")
    with pytest.raises(GroupBuyError):
        create_order("liergou", mall_offer.goods_id, idempotency_key="k2")
    assert PayOrder.objects.get(pk=alone.pk).status == PayOrder.Status.PAY_WAIT


def test_giving_back_an_order_bought_alone(
    mall_offer, tasks_run_inline, notify_via_test_client, django_capture_on_commit_callbacks
):
    unpaid = mall_order_create_alone(user=user("xiaofuge"), goods_id=mall_offer.goods_id)
    mall_order_refund_request(user=user("xiaofuge"), order_id=unpaid.order_id)
    assert PayOrder.objects.get(pk=unpaid.pk).status == PayOrder.Status.CLOSE

    client = login(Client(), "liergou")
    client.post(f"/goods/{an_offer(credential=mall_offer.credential).goods_id}/buy-alone", {})
    paid = PayOrder.objects.get(user__username="liergou")
    pay(client, paid.order_id, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = mall_order_refund_request(user=user("liergou"), order_id=paid.order_id)
    assert not outcome.repeat
    paid.refresh_from_db()
    assert paid.status == PayOrder.Status.CLOSE
    assert RefundRecord.objects.get(pay_order=paid).status == RefundRecord.Status.SUCCESS


def test_an_order_bought_alone_is_given_back_from_the_orders_page_and_the_api(
    mall_offer, tasks_run_inline, notify_via_test_client, django_capture_on_commit_callbacks
):
    """Both adapters answer a solo order's refund (they read the outcome's strategy, which once only team
    refunds had: a 500)."""
    client = login(Client(), "xiaofuge")
    unpaid = mall_order_create_alone(user=user("xiaofuge"), goods_id=mall_offer.goods_id)
    response = client.post(f"/orders/{unpaid.order_id}/refund", follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and "Order cancelled. Nothing was charged." in response.content.decode()
    assert PayOrder.objects.get(pk=unpaid.pk).status == PayOrder.Status.CLOSE

    client.post(f"/goods/{an_offer(credential=mall_offer.credential).goods_id}/buy-alone", {})
    paid = PayOrder.objects.get(user__username="xiaofuge", status=PayOrder.Status.PAY_WAIT)
    pay(client, paid.order_id, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        api = mobile_client("xiaofuge").post(f"/api/v1/mall/orders/{paid.order_id}/refund")
    assert api.status_code == 200
    assert api.json()["data"] == {"orderId": paid.order_id, "code": "success", "strategy": "solo_refund"}
    assert RefundRecord.objects.get(pay_order=paid).status == RefundRecord.Status.SUCCESS
    again = client.post(f"/orders/{paid.order_id}/refund", follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "This order was already cancelled or refunded." in again.content.decode()
