"""The product answers with issue 17's offers: leader prices and new-customer teams, signed and mall API alike."""

import pytest
from django.utils import translation

from apps.activities.models import Activity
from apps.activities.tests.factories import DiscountFactory, Offer, an_offer
from apps.common.errors import ResponseCode
from apps.storefront.apis import MarketConfigOut
from apps.storefront.market import market_config_query
from apps.storefront.tests.test_mall_api import mobile_of
from apps.storefront.tests.test_market_api import ask, query
from apps.trade.tests.helpers import lock_team, settle_orders

pytestmark = pytest.mark.django_db


def with_leader_offer(offer: Offer, expr: str = "10") -> Offer:
    leader = DiscountFactory.create(market_plan="ZJ", market_expr=expr, discount_name="leader")
    Activity.objects.filter(pk=offer.activity.pk).update(leader_discount=leader)
    return offer


def new_customers_only(offer: Offer) -> Offer:
    Activity.objects.filter(pk=offer.activity.pk).update(new_customers_only=True)
    return offer


def paid_once(offer: Offer, user_id: str) -> str:
    """``user_id`` opens and pays a team of ``offer``: a customer who paid before on its channel. The team id."""
    team_id = lock_team(offer, (user_id,))
    settle_orders(offer, (user_id,))
    return team_id


def test_the_signed_trial_shows_the_leader_and_the_joiner_price(client, offer):
    with_leader_offer(offer)
    data = query(client, offer, ask(offer)).json()["data"]
    assert data["goods"] == {
        "goodsId": offer.goods_id, "goodsName": offer.sku.goods_name, "originalPrice": "100.00",
        "deductionPrice": "20.00", "payPrice": "80.00", "leaderPayPrice": "70.00", "leaderDeductionPrice": "30.00",
    }  # fmt: skip
    assert MarketConfigOut(data).data == data  # built by hand: it reads as the documented serializer writes it


def test_the_signed_trial_says_who_may_join(client, offer, set_dcc):
    set_dcc("rateLimiterSwitch", "close")  # one shopper asks twice in a row
    new_customers_only(offer)
    team_id = paid_once(offer, "regular")
    browse = query(client, offer, ask(offer, user_id="regular")).json()["data"]
    with translation.override("zh-hans"):  # the signed API answers in the default language
        reason = {"code": "E0107", "info": str(ResponseCode.E0107.info)}
    assert (browse["isEnable"], browse["joinEnable"], browse["reason"]) == (True, False, reason)
    join = query(client, offer, {**ask(offer, user_id="regular"), "teamId": team_id}).json()["data"]
    assert (join["isEnable"], join["joinEnable"], join["reason"]) == (False, False, reason)
    assert MarketConfigOut(join).data == join
    newbie = query(client, offer, {**ask(offer, user_id="newbie"), "teamId": team_id}).json()["data"]
    assert (newbie["isEnable"], newbie["joinEnable"], newbie["reason"]) == (True, True, None)


@pytest.mark.parametrize("team_id", ["123", "1234567a", 12345678.5, ["12345678"]])
def test_a_malformed_team_id_is_0002(client, offer, team_id):
    response = query(client, offer, {**ask(offer), "teamId": team_id})
    payload = response.json()
    assert (response.status_code, payload["code"], set(payload["data"])) == (400, "0002", {"teamId"})


def test_a_blank_or_null_team_id_is_a_browse(client, offer):
    for team_id in ("", None):
        data = query(client, offer, {**ask(offer, user_id=f"u{team_id!r}"), "teamId": team_id}).json()["data"]
        assert (data["isEnable"], data["joinEnable"]) == (True, True)


def test_the_new_customer_check_is_the_one_added_query(offer, django_assert_num_queries):
    """Pinned: a warm product answer is one query (the user's own teams); a new-customers-only one adds the
    paid-before read; a leader offer adds none."""
    leader = with_leader_offer(an_offer(credential=offer.credential))
    new_customers = new_customers_only(offer)
    for shown, queries in ((leader, 1), (new_customers, 2)):
        where = {**shown.in_channel, "goods_id": shown.goods_id}
        market_config_query(user_id="warm", **where)
        with django_assert_num_queries(queries):
            market_config_query(user_id="demo1", **where)


def test_the_mall_api_shows_both_prices(mall_offer):
    with_leader_offer(mall_offer)
    mobile = mobile_of("ann")
    products = mobile.get("/api/v1/mall/products").json()["data"]
    card = next(p for p in products if p["goods"]["goodsId"] == mall_offer.goods_id)
    assert (card["goods"]["payPrice"], card["goods"]["leaderPayPrice"], card["goods"]["leaderDeductionPrice"]) == (
        "80.00",
        "70.00",
        "30.00",
    )
    detail = mobile.get(f"/api/v1/mall/products/{mall_offer.goods_id}").json()["data"]
    assert (detail["goods"]["payPrice"], detail["goods"]["leaderPayPrice"]) == ("80.00", "70.00")
    plain = an_offer(credential=mall_offer.credential)
    plain_card = next(
        p for p in mobile.get("/api/v1/mall/products").json()["data"] if p["goods"]["goodsId"] == plain.goods_id
    )
    assert (plain_card["goods"]["leaderPayPrice"], plain_card["goods"]["leaderDeductionPrice"]) == (None, None)


def test_the_mall_product_says_who_may_join(mall_offer):
    new_customers_only(mall_offer)
    mobile = mobile_of("regular")
    paid_once(mall_offer, "regular")
    detail = mobile.get(f"/api/v1/mall/products/{mall_offer.goods_id}").json()["data"]
    assert (detail["isEnable"], detail["joinEnable"], detail["reason"]["code"]) == (True, False, "E0107")


def test_the_schema_documents_the_new_fields(client):
    schema = client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    goods = components["GoodsOut"]["properties"]
    assert goods["leaderPayPrice"]["nullable"] and goods["leaderDeductionPrice"]["nullable"]
    config = components["MarketConfigOut"]
    assert {"joinEnable", "reason"} <= set(config["required"])
    assert config["properties"]["reason"]["nullable"]
    assert set(components["ReasonOut"]["properties"]) == {"code", "info"}
    assert "teamId" in components["MarketConfigRequestRequest"]["properties"]
    lock = schema["paths"]["/api/v1/gbm/trade/lock_market_pay_order"]["post"]
    assert "leader price" in lock["description"] and "E0107" in lock["description"]
