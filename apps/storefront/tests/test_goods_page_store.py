"""The goods page a shopper trusts: image and description, words that agree with the figures, a used-up
take limit explained, "buy alone", and the open teams closest to full first (page and API alike)."""

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from apps.accounts.tests.factories import StaffFactory
from apps.activities.tests.factories import Offer
from apps.payments.orders import mall_order_create
from apps.payments.tests.helpers import login, mobile_client, user
from apps.trade.models import Team
from apps.trade.tests.factories import OrderFactory, TeamFactory

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def page(client: Client, url: str) -> str:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return response.content.decode()


def goods_page(client: Client, offer: Offer) -> str:
    return page(client, f"/goods/{offer.goods_id}")


def team(offer: Offer, lock: int, minutes: int, leader: str, **fields) -> Team:
    """A team of ``offer`` led by ``leader`` with ``lock`` seats taken, ending in ``minutes``."""
    now = timezone.now()
    row = TeamFactory.create(
        activity=offer.activity, **offer.in_channel, lock_count=lock, valid_start_time=now - timedelta(minutes=30),
        valid_end_time=now + timedelta(minutes=minutes),
        **fields,
    )  # fmt: skip
    OrderFactory(team=row, user_id=leader, sku=offer.sku, **offer.in_channel)
    return row


def staff_client() -> Client:
    admin = Client()
    admin.force_login(StaffFactory.create())
    return admin


# --- image and description ---------------------------------------------------------------------------------


def test_demo_goods_show_their_shipped_cover_and_description(client, demo):
    html = page(client, "/goods/9890001")
    assert 'src="/static/img/goods/9890001.svg"' in html and 'class="goods-image"' in html
    assert "从零实现一个 MyBatis" in html
    home = page(client, "/")
    # every demo offer but the tag-only 9890005 (a visitor is not in its crowd tag)
    assert home.count('class="product-image"') == 9 and 'src="/static/img/goods/9890006.svg"' in home


def test_an_uploaded_image_replaces_the_cover_and_is_served_from_media(
    client, mall_offer, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    admin = staff_client()
    sku = mall_offer.sku
    goods_page(client, mall_offer)  # the SKU is cached before the change
    form = {
        "goods_id": sku.goods_id, "goods_name": sku.goods_name, "description": "新的简介",
        "original_price": "100.00", **mall_offer.in_channel,
        "image": SimpleUploadedFile("cover.png", PNG, content_type="image/png"),
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):  # the cache is busted on commit
        response = admin.post(f"/admin/activities/sku/{sku.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    sku.refresh_from_db()
    assert sku.image.name.startswith("goods/cover")
    html = goods_page(client, mall_offer)
    assert f'src="/media/{sku.image.name}"' in html and "新的简介" in html  # the SKU cache was busted on save
    assert (tmp_path / sku.image.name).read_bytes() == PNG


@pytest.mark.parametrize(
    ("name", "content"),
    [("cover.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"), ("cover.png", b"GIF")],
)
def test_the_admin_refuses_what_is_not_a_raster_image(mall_offer, settings, tmp_path, name, content):
    settings.MEDIA_ROOT = tmp_path
    admin = staff_client()
    sku = mall_offer.sku
    form = {
        "goods_id": sku.goods_id, "goods_name": sku.goods_name, "original_price": "100.00",
        **mall_offer.in_channel, "image": SimpleUploadedFile(name, content),
    }  # fmt: skip
    response = admin.post(f"/admin/activities/sku/{sku.pk}/change/", form)
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    sku.refresh_from_db()
    assert not sku.image


def test_goods_without_an_image_show_a_placeholder(client, mall_offer):
    assert not mall_offer.sku.image
    assert 'src="/static/img/goods/placeholder.svg"' in goods_page(client, mall_offer)


# --- words that agree with the figures -------------------------------------------------------------------


def test_no_open_team_after_a_complete_one_does_not_say_nobody_opened_one(client, mall_offer):
    team(mall_offer, lock=3, minutes=10, leader="demo1", status=Team.Status.COMPLETE, complete_count=3)
    html = goods_page(client, mall_offer)
    assert "Nobody has opened a team yet" not in html
    assert "No team is waiting for members right now" in html
    assert "1 team opened so far · 1 complete · 3 shoppers joined" in html


def test_a_fresh_offer_says_nobody_opened_a_team_yet(client, mall_offer):
    html = goods_page(client, mall_offer)
    assert "Nobody has opened a team yet" in html and "0 teams opened so far · 0 complete · 0 shoppers joined" in html


# --- take limit, buy alone ---------------------------------------------------------------------------------


def test_a_used_up_take_limit_hides_open_a_team_and_says_why(client, mall_offer):
    order = mall_order_create(user=user("xiaofuge"), goods_id=mall_offer.goods_id)
    team(mall_offer, lock=1, minutes=10, leader="liergou")
    login(client, "xiaofuge")
    html = goods_page(client, mall_offer)
    assert "open-team" not in html and ">Join</button>" not in html
    assert "You have used up this offer: each shopper may take 1 group-buy place at a time." in html
    assert f'href="/teams/{order.team_id}"' in html
    assert f'action="/goods/{mall_offer.goods_id}/buy-alone"' in html  # buying alone stays possible
    assert not re.search(r"\bE0\d{3}\b", html)


def test_open_a_team_and_buy_alone_side_by_side(client, mall_offer):
    login(client, "xiaofuge")
    html = goods_page(client, mall_offer)
    assert '>Open a team <span class="button-price">¥80.00</span></button>' in html
    assert '>Buy alone at full price <span class="button-price">¥100.00</span></button>' in html


# --- open teams: closest to full first, masked, only joinable ------------------------------------------------


def test_open_teams_closest_to_full_first_masked_and_only_joinable(client, mall_offer):
    soon_one_seat_short = team(mall_offer, lock=2, minutes=9, leader="demo2")
    later_one_seat_short = team(mall_offer, lock=2, minutes=12, leader="demo3")
    team(mall_offer, lock=1, minutes=3, leader="demo4")  # ends first, but two seats short: not shown (2 others)
    team(mall_offer, lock=3, minutes=5, leader="demo5")  # full
    team(mall_offer, lock=1, minutes=-1, leader="demo6")  # expired
    team(mall_offer, lock=2, minutes=5, leader="demo7", status=Team.Status.FAILED)  # closed
    login(client, "xiaofuge")
    html = goods_page(client, mall_offer)
    shown = re.findall(r'class="team" data-team-id="(\d+)"', html)
    assert shown == [soon_one_seat_short.team_id, later_one_seat_short.team_id]
    assert "de***o2" in html and "demo2" not in html and "demo3" not in html

    api = mobile_client("xiaofuge").get(f"/api/v1/mall/products/{mall_offer.goods_id}").json()["data"]
    assert [t["teamId"] for t in api["teamList"]] == shown
    assert [t["userId"] for t in api["teamList"]] == ["de***o2", "de***o3"]
    assert all(t["outTradeNo"] is None for t in api["teamList"])


def test_the_goods_page_states_the_offers_rules_in_the_shoppers_language(client, demo):
    auto_form = page(client, "/goods/9890009")
    assert "forms at its deadline once 66% of its seats are paid; the platform fills the rest." in auto_form
    limited = page(client, "/goods/9890010")
    assert "Up to 2 group-buy places per shopper at a time." in limited and "Only 5 more teams can open." in limited
    plain = page(client, "/goods/9890001")  # target required, 1 take, no team limit: none of those lines
    assert not re.search(r"auto-form-note|take-limit-note|teams-left", plain)
    zh = client.get("/goods/9890010", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "每位用户同时最多参加 2 次拼团。" in zh and "仅剩 5 个开团名额。" in zh
    zh = client.get("/goods/9890009", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "只要已付款名额达到 66% 即成团" in zh
