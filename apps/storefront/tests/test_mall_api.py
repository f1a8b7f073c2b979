"""Mall API for mobile clients: token login, products with my price, one product with teams."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def mobile(demo):
    client = APIClient()
    token = client.post("/api/v1/login/token", {"username": "xiaofuge", "password": "demo"}, format="json")
    assert token.status_code == 200, token.json()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['data']['token']}")
    return client


def test_wrong_password_is_401(demo):
    response = APIClient().post("/api/v1/login/token", {"username": "xiaofuge", "password": "x"}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "0401")


def test_products_need_a_token(demo):
    response = APIClient().get("/api/v1/mall/products")
    assert (response.status_code, response.json()["code"]) == (401, "0401")


def test_product_list_has_my_prices(mobile):
    products = mobile.get("/api/v1/mall/products").json()["data"]
    by_id = {p["goods"]["goodsId"]: p for p in products}
    assert by_id["9890001"]["goods"]["payPrice"] == "80.00"
    assert by_id["9890004"]["goods"]["payPrice"] == "1.99"
    assert by_id["9890005"]["isEnable"] is True  # xiaofuge is in the crowd tag


def test_outsiders_do_not_see_tag_only_offers(demo):
    client = APIClient()
    token = client.post("/api/v1/login/token", {"username": "demo1", "password": "demo"}, format="json")
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['data']['token']}")
    goods = {p["goods"]["goodsId"] for p in client.get("/api/v1/mall/products").json()["data"]}
    assert "9890005" not in goods and "9890001" in goods


def test_product_detail_and_unknown_product(mobile):
    detail = mobile.get("/api/v1/mall/products/9890003").json()
    assert detail["data"]["goods"]["payPrice"] == "72.00"
    assert detail["data"]["teamStatistic"]["allTeamCount"] == 0
    assert mobile.get("/api/v1/mall/products/nope").json()["code"] == "E0002"
