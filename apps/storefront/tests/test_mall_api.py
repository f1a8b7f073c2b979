"""Mall API for mobile clients: token login, products with my price, one product with teams."""

import pytest
from rest_framework.test import APIClient

from apps.accounts.tests.factories import UserFactory
from apps.activities.tests.factories import Offer, an_offer
from apps.tags.services import crowd_tag_add_members
from apps.tags.tests.factories import CrowdTagFactory

pytestmark = pytest.mark.django_db


def mobile_of(username: str) -> APIClient:
    """A mobile client of the shopper ``username``, logged in with a token."""
    UserFactory.create(username=username)  # password "pw"
    client = APIClient()
    token = client.post("/api/v1/login/token", {"username": username, "password": "pw"}, format="json")
    assert token.status_code == 200, token.json()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['data']['token']}")
    return client


@pytest.fixture
def members_only(mall_offer) -> Offer:
    """An offer of the mall that only the crowd ``member`` belongs to sees and joins (ZJ 30 off 100.00)."""
    crowd = CrowdTagFactory.create()
    crowd_tag_add_members(tag=crowd, user_ids=["member"])
    return an_offer(credential=mall_offer.credential, expr="30", members_only=crowd)


def test_wrong_password_is_401(db):
    UserFactory.create(username="ann")  # password "pw"
    response = APIClient().post("/api/v1/login/token", {"username": "ann", "password": "x"}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "0401")


def test_products_need_a_token(mall_offer):
    response = APIClient().get("/api/v1/mall/products")
    assert (response.status_code, response.json()["code"]) == (401, "0401")


def test_product_list_has_my_prices(mall_offer, members_only):
    pay_n = an_offer(credential=mall_offer.credential, price="50.00", plan="N", expr="1.99")
    products = mobile_of("member").get("/api/v1/mall/products").json()["data"]
    by_id = {p["goods"]["goodsId"]: p for p in products}
    assert by_id[mall_offer.goods_id]["goods"]["payPrice"] == "80.00"
    assert by_id[pay_n.goods_id]["goods"]["payPrice"] == "1.99"
    assert by_id[members_only.goods_id]["isEnable"] is True  # "member" is in the crowd tag
    assert by_id[members_only.goods_id]["goods"]["payPrice"] == "70.00"


def test_outsiders_do_not_see_tag_only_offers(mall_offer, members_only):
    goods = {p["goods"]["goodsId"] for p in mobile_of("ann").get("/api/v1/mall/products").json()["data"]}
    assert members_only.goods_id not in goods and mall_offer.goods_id in goods


def test_product_detail_and_unknown_product(mall_offer):
    percentage = an_offer(credential=mall_offer.credential, price="90.00", plan="ZK", expr="0.8")
    mobile = mobile_of("ann")
    detail = mobile.get(f"/api/v1/mall/products/{percentage.goods_id}").json()
    assert detail["data"]["goods"]["payPrice"] == "72.00"
    assert detail["data"]["teamStatistic"]["allTeamCount"] == 0
    assert mobile.get("/api/v1/mall/products/nope").json()["code"] == "E0002"
