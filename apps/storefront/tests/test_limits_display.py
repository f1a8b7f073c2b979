"""An activity's team limit as shoppers and malls see it: ``soldOut`` / ``teamsLeft`` on the trial answer (signed
and mall API), "Sold out" on the product list, and the goods page's actions."""

import json
from itertools import count

import pytest
from rest_framework.test import APIClient

from apps.accounts.services import api_token_get_or_create
from apps.accounts.tests.factories import UserFactory
from apps.activities.tests.factories import Offer, an_offer
from apps.channels.signing import signed_headers
from apps.common.cache import cache_delete
from apps.storefront.apis import MarketConfigOut
from apps.storefront.market import market_config_query
from apps.trade.selectors import formation_quota_key
from apps.trade.tests.helpers import lock_team, settle_orders

pytestmark = pytest.mark.django_db

MARKET = "/api/v1/gbm/index/query_group_buy_market_config"
_shoppers = count()


def trial_answer(client, offer: Offer) -> dict:
    """The signed trial answer for a new shopper each time (the trial is rate limited per user)."""
    body = {"userId": f"shopper{next(_shoppers)}", **offer.in_channel, "goodsId": offer.goods_id}
    raw = json.dumps(body).encode()
    headers = signed_headers(offer.secret, "POST", MARKET, raw)
    answer = client.post(MARKET, data=raw, content_type="application/json", headers=headers).json()
    assert answer["code"] == "0000", answer
    return answer["data"]


def recount(offer: Offer) -> None:
    """Forget the team count shown for two seconds, as if they had passed."""
    limit = offer.activity.max_teams_formed
    assert limit is not None
    cache_delete(formation_quota_key(activity_id=offer.activity_id, limit=limit))


def sold_out_offer(mall_offer: Offer) -> Offer:
    """A mall offer whose one team may form, and has."""
    sold = an_offer(credential=mall_offer.credential, target=1, max_teams_formed=1)
    lock_team(sold, ("u1",))
    settle_orders(sold, ("u1",))
    return sold


def test_the_trial_answer_says_how_many_teams_may_still_open_then_sold_out(client, offer):
    unlimited = trial_answer(client, offer)
    assert (unlimited["soldOut"], unlimited["teamsLeft"]) == (False, None)
    limited = an_offer(credential=offer.credential, target=1, max_teams_formed=2)
    fresh = trial_answer(client, limited)
    assert (fresh["soldOut"], fresh["teamsLeft"]) == (False, 2)
    lock_team(limited, ("u1",))
    lock_team(limited, ("u2",))
    recount(limited)
    both_open = trial_answer(client, limited)
    assert (both_open["soldOut"], both_open["teamsLeft"]) == (False, 0)  # join an open team; no new one
    settle_orders(limited, ("u1", "u2"))
    recount(limited)
    sold = trial_answer(client, limited)
    assert (sold["soldOut"], sold["teamsLeft"]) == (True, 0)
    assert MarketConfigOut(sold).data == sold  # built by hand: it reads as the documented serializer writes it


def test_a_limited_offers_warm_trial_costs_what_an_unlimited_ones_does(offer, django_assert_num_queries):
    """The team count is cached like the statistics: no query more once warm (and none at all without a limit)."""
    limited = an_offer(credential=offer.credential, max_teams_formed=5)
    lock_team(limited, ("demo1",))
    ask = {**limited.in_channel, "goods_id": limited.goods_id}
    market_config_query(user_id="demo9", **ask)
    with django_assert_num_queries(1):
        assert market_config_query(user_id="demo2", **ask).teams_left == 4


def test_the_product_list_and_the_mall_api_show_sold_out(client, mall_offer):
    sold = sold_out_offer(mall_offer)
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Sold out" in html.split(f'data-goods-id="{sold.goods_id}"')[1].split("</li>")[0]
    assert "Sold out" not in html.split(f'data-goods-id="{mall_offer.goods_id}"')[1].split("</li>")[0]
    mobile = APIClient()
    mobile.credentials(HTTP_AUTHORIZATION=f"Token {api_token_get_or_create(user=UserFactory.create(username='ann'))}")
    products = {p["goods"]["goodsId"]: p for p in mobile.get("/api/v1/mall/products").json()["data"]}
    assert (products[sold.goods_id]["soldOut"], products[mall_offer.goods_id]["soldOut"]) == (True, False)
    detail = mobile.get(f"/api/v1/mall/products/{sold.goods_id}").json()["data"]
    assert (detail["soldOut"], detail["teamsLeft"]) == (True, 0)


def test_the_goods_page_offers_only_joining_when_no_new_team_may_open(client, mall_offer):
    limited = an_offer(credential=mall_offer.credential, target=2, max_teams_formed=1)
    team_id = lock_team(limited, ("u1",))
    client.force_login(UserFactory.create(username="ann"))
    html = client.get(f"/goods/{limited.goods_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No new team can be opened for this offer any more" in html
    assert 'class="open-team"' not in html
    assert f'data-team-id="{team_id}"' in html and 'class="join-team"' in html


def test_the_sold_out_goods_page_offers_neither_opening_nor_joining(client, mall_offer):
    sold = sold_out_offer(mall_offer)
    client.force_login(UserFactory.create(username="ann"))
    html = client.get(f"/goods/{sold.goods_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Sold out: every team this offer may form has formed." in html
    assert 'class="open-team"' not in html and 'class="join-team"' not in html
    assert 'class="buy-alone"' in html  # the mall still sells it at full price
