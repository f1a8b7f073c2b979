"""The mall pages end to end over HTTP: goods → buy → cashier → sandbox Pay → notify → paid and settled."""

import re

import pytest
from django.conf import settings
from django.test import Client

from apps.notifications.models import NotifyTask
from apps.payments.models import PayOrder, SandboxTrade
from apps.payments.tests.helpers import create_order, login
from apps.trade.models import Order, Team
from apps.trade.tests.invariants import assert_trade_invariants

pytestmark = pytest.mark.django_db


def buy(client: Client, goods_id: str, team_id: str = "", key: str = "") -> str:
    """Press "Open a team" / "Join"; returns the cashier URL it redirects to."""
    response = client.post(f"/goods/{goods_id}/buy", {"team_id": team_id, "idempotency_key": key})
    assert response.status_code == 302, response.content
    return response["Location"]


def pay(client: Client, order_id: str, capture) -> None:
    """Press the sandbox's Pay button; its notify is delivered after commit, in process."""
    with capture(execute=True):
        response = client.post(f"/pay/sandbox/{order_id}")
    assert (response.status_code, response["Location"]) == (302, f"/cashier/{order_id}")


@pytest.fixture
def shop(mall_offer, tasks_run_inline, notify_via_test_client, django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_buy_pay_and_settle_through_the_pages(client, mall_offer, shop):
    login(client, "xiaofuge")
    cashier_url = buy(client, mall_offer.goods_id, key="page-1")
    order = PayOrder.objects.get(user__username="xiaofuge")
    assert cashier_url == f"/cashier/{order.order_id}"

    html = client.get(cashier_url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Pay ¥80.00" in html and "<svg" in html
    assert f'data-qr-for="http://testserver/pay/sandbox/{order.order_id}"' in html
    assert re.search(r'data-valid-end="[^"]+" data-reload-at-zero', html)

    pay(client, order.order_id, shop)
    order.refresh_from_db()
    trade = SandboxTrade.objects.get(out_trade_no=order.order_id)
    assert (order.status, order.trade_no) == (PayOrder.Status.PAY_SUCCESS, trade.trade_no)
    assert (trade.notify_status, trade.notify_attempts) == (SandboxTrade.NotifyStatus.DELIVERED, 1)
    assert Order.objects.get(out_trade_no=order.order_id).status == Order.Status.PAID
    html = client.get(cashier_url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "2 more people needed" in html and "2 seats left" in html
    assert f'class="order-action action-invite" href="/teams/{order.team_id}"' in html
    assert_trade_invariants()


def test_three_shoppers_complete_a_team(mall_offer, shop):
    team_id = None
    for username in ("demo1", "demo2", "demo3"):
        browser = login(Client(), username)
        if team_id:
            page = browser.get(f"/teams/{team_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
            assert ">Join</button>" in page
        order_id = buy(browser, mall_offer.goods_id, team_id=team_id or "").rsplit("/", 1)[1]
        pay(browser, order_id, shop)
        team_id = PayOrder.objects.get(order_id=order_id).team_id
    team = Team.objects.get(team_id=team_id)
    assert (team.status, team.complete_count, team.lock_count) == (Team.Status.COMPLETE, 3, 3)
    assert NotifyTask.objects.filter(team_id=team_id, notify_category="trade_settlement").count() == 1
    assert set(PayOrder.objects.values_list("status", flat=True)) == {PayOrder.Status.PAY_SUCCESS}
    late = login(Client(), "demo4").get(f"/teams/{team_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert ">Join</button>" not in late and "3/3 joined" in late
    assert_trade_invariants()


def test_a_lock_rejection_shows_its_message_on_the_goods_page(client, mall_offer):
    login(client, "xiaofuge")
    buy(client, mall_offer.goods_id)
    response = client.post(f"/goods/{mall_offer.goods_id}/buy", {}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert response.redirect_chain == [(f"/goods/{mall_offer.goods_id}", 302)]
    html = response.content.decode()
    assert "You have used up this offer" in html and 'class="message error"' in html
    assert "E0103" not in html and "take limit is reached" not in html  # shoppers never see internal codes


def test_the_same_page_submitted_twice_is_one_order(client, mall_offer):
    login(client, "xiaofuge")
    assert buy(client, mall_offer.goods_id, key="same-page") == buy(client, mall_offer.goods_id, key="same-page")
    assert PayOrder.objects.count() == 1


def test_the_goods_page_buttons_post_to_the_buy_flow(client, mall_offer):
    leader = create_order("liergou", mall_offer.goods_id)
    login(client, "xiaofuge")
    html = client.get(f"/goods/{mall_offer.goods_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert html.count(f'action="/goods/{mall_offer.goods_id}/buy"') == 2  # open a team, join liergou's
    assert f'name="team_id" value="{leader.team_id}"' in html
    assert 'name="idempotency_key"' in html and '>Open a team <span class="button-price">¥80.00</span></button>' in html
    mine = login(Client(), "liergou").get(f"/goods/{mall_offer.goods_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'href="/teams/{leader.team_id}"' in mine


def test_pages_need_a_login(client, mall_offer):
    order = create_order("xiaofuge", mall_offer.goods_id)
    for method, url in (
        ("post", f"/goods/{mall_offer.goods_id}/buy"),
        ("post", f"/goods/{mall_offer.goods_id}/buy-alone"),
        ("get", f"/cashier/{order.order_id}"),
        ("get", "/orders"),
        ("get", f"/pay/sandbox/{order.order_id}"),
    ):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response.url.startswith(settings.LOGIN_URL), url
    assert not PayOrder.objects.exclude(pk=order.pk).exists()


def test_back_from_the_login_page_lands_on_the_goods_page(client, mall_offer):
    login(client, "xiaofuge")
    response = client.get(f"/goods/{mall_offer.goods_id}/buy")
    assert (response.status_code, response.url) == (302, f"/goods/{mall_offer.goods_id}")


def test_another_shoppers_cashier_is_not_found(client, mall_offer):
    order = create_order("xiaofuge", mall_offer.goods_id)
    login(client, "liergou")
    assert client.get(f"/cashier/{order.order_id}").status_code == 404


def test_my_orders_lists_status_and_team(client, mall_offer):
    waiting = create_order("xiaofuge", mall_offer.goods_id)
    create_order("liergou", mall_offer.goods_id)
    login(client, "xiaofuge")
    html = client.get("/orders", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert html.count('class="order-row"') == 1
    assert f'data-order-id="{waiting.order_id}" data-status="PAY_WAIT"' in html
    assert f'href="/cashier/{waiting.order_id}">Pay now</a>' in html
    assert f'action="/orders/{waiting.order_id}/refund"' in html and ">Cancel order</button>" in html


def test_the_team_page_shares_a_qr_code_masked_members_and_a_countdown(client, mall_offer):
    order = create_order("xiaofuge", mall_offer.goods_id)
    login(client, "liergou")
    html = client.get(f"/teams/{order.team_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    team = Team.objects.get(team_id=order.team_id)
    assert f'data-qr-for="http://testserver/teams/{order.team_id}"' in html and "<svg" in html
    assert "xi***ge" in html and "xiaofuge" not in html
    assert f'data-valid-end="{team.valid_end_time.isoformat()}"' in html and "js/countdown" in html
    assert "1/3 joined" in html and "2 seats left" in html and ">Join</button>" in html
    assert client.get("/teams/00000000").status_code == 404


@pytest.mark.parametrize(("language", "text"), [("en", "Cashier"), ("zh-hans", 'lang="zh-hans"')])
def test_pages_speak_both_languages(client, mall_offer, language, text):
    order = create_order("xiaofuge", mall_offer.goods_id)
    login(client, "xiaofuge")
    for url in (f"/cashier/{order.order_id}", "/orders", f"/teams/{order.team_id}", f"/pay/sandbox/{order.order_id}"):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, url
        assert f'lang="{language}"' in response.content.decode()
    assert text in client.get(f"/cashier/{order.order_id}", HTTP_ACCEPT_LANGUAGE=language).content.decode()
