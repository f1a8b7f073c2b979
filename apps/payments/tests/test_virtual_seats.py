"""A mall team formed at its deadline under an auto-form threshold: its virtual seats are reported apart from its
shoppers on the team page and in the mall API, and are nobody's order."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.activities.models import Activity
from apps.payments.notify import mall_order_paid
from apps.payments.tests.helpers import create_order, login, mobile_client
from apps.trade.models import Team
from apps.trade.timeouts import trade_timeouts_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def formed_with_virtual_seats(mall_offer) -> str:
    """A team of 4: two paid, one never paid, formed at its deadline (threshold 50 %) with 2 virtual seats."""
    Activity.objects.filter(pk=mall_offer.activity.pk).update(
        target=4, group_type=Activity.GroupType.AUTO_FORM, auto_form_percent=50
    )
    leader = create_order("xiaofuge", mall_offer.goods_id)
    joiner = create_order("liergou", mall_offer.goods_id, team_id=leader.team_id)
    create_order("demo1", mall_offer.goods_id, team_id=leader.team_id)  # never pays
    for order in (leader, joiner):
        mall_order_paid(order_id=order.order_id, trade_no=f"T{order.order_id}", paid_amount=order.pay_amount,
                        paid_at=timezone.now())  # fmt: skip
    trade_timeouts_run(now=timezone.now() + timedelta(minutes=16))
    team = Team.objects.get(team_id=leader.team_id)
    assert (team.status, team.lock_count, team.complete_count, team.virtual_count) == (Team.Status.COMPLETE, 2, 2, 2)
    return team.team_id


def test_the_team_page_says_who_joined_and_what_the_platform_filled(formed_with_virtual_seats):
    browser = login(Client(), "xiaofuge")
    html = browser.get(f"/teams/{formed_with_virtual_seats}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Team complete!" in html
    assert '<p class="seats">2 joined + 2 filled by the platform</p>' in html
    assert html.count('class="seat virtual-seat"') == 2 and html.count('class="seat member') == 2
    assert "empty-seat" not in html and "width: 100%" in html
    zh = browser.get(f"/teams/{formed_with_virtual_seats}", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert zh.count('class="seat virtual-seat"') == 2


def test_the_mall_api_answers_virtual_seats_apart_from_members(formed_with_virtual_seats):
    data = mobile_client("xiaofuge").get(f"/api/v1/mall/teams/{formed_with_virtual_seats}").json()["data"]
    assert (data["status"], data["lockCount"], data["completeCount"], data["virtualCount"]) == (1, 2, 2, 2)
    assert [m["userId"] for m in data["members"]] == ["xi***ge", "li***ou"]  # nobody for the virtual seats


def test_an_ordinary_team_has_no_virtual_seats(mall_offer):
    order = create_order("xiaofuge", mall_offer.goods_id)
    assert mobile_client("xiaofuge").get(f"/api/v1/mall/teams/{order.team_id}").json()["data"]["virtualCount"] == 0
    html = login(Client(), "xiaofuge").get(f"/teams/{order.team_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "virtual-seat" not in html and '<p class="seats">1/3 joined</p>' in html
