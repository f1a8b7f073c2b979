"""Mall API (token auth, envelope): create order (Idempotency-Key), my orders, order detail, team."""

import json

import pytest
from rest_framework.test import APIClient

from apps.activities.tests.factories import an_offer
from apps.channels.signing import signed_headers
from apps.common.serializers import format_datetime
from apps.payments.models import PayOrder
from apps.payments.notify import mall_order_paid
from apps.payments.tests.helpers import create_order, mobile_client
from apps.trade.models import Order

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/mall/orders"
MARKET = "/api/v1/gbm/index/query_group_buy_market_config"


@pytest.fixture
def mobile(mall_offer):
    return mobile_client("xiaofuge")


def test_everything_needs_a_token(mall_offer):
    anonymous = APIClient()
    for response in (
        anonymous.post(ORDERS, {"goodsId": mall_offer.goods_id}, format="json"),
        anonymous.get(ORDERS),
        anonymous.get(f"{ORDERS}/1"),
        anonymous.get("/api/v1/mall/teams/12345678"),
    ):
        assert (response.status_code, response.json()["code"]) == (401, "0401")


def test_create_answers_order_pay_url_amount_and_team(mobile, mall_offer):
    response = mobile.post(ORDERS, {"goodsId": mall_offer.goods_id}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == "0000"
    data = body["data"]
    order = PayOrder.objects.get(order_id=data["orderId"])
    assert data == {
        "orderId": order.order_id,
        "payUrl": f"http://testserver/pay/sandbox/{order.order_id}",
        "payAmount": "80.00",
        "teamId": order.team_id,
        "status": "PAY_WAIT",
        "autoJoined": False,
    }


def test_the_idempotency_key_header_returns_the_same_order(mobile, mall_offer):
    first = mobile.post(ORDERS, {"goodsId": mall_offer.goods_id}, format="json", HTTP_IDEMPOTENCY_KEY="abc-1").json()
    again = mobile.post(ORDERS, {"goodsId": mall_offer.goods_id}, format="json", HTTP_IDEMPOTENCY_KEY="abc-1").json()
    assert first == again and first["code"] == "0000"
    assert PayOrder.objects.count() == 1 and Order.objects.count() == 1


def test_lock_rejections_reach_the_client_as_the_envelope(mobile, mall_offer):
    assert mobile.post(ORDERS, {"goodsId": mall_offer.goods_id}, format="json").json()["code"] == "0000"
    response = mobile.post(ORDERS, {"goodsId": mall_offer.goods_id}, format="json")  # take limit 1
    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["data"]) == ("E0103", None)
    assert body["info"]
    refused = PayOrder.objects.get(market_code="E0103")
    assert mobile.get(ORDERS).json()["data"]["count"] == 1  # the refused attempt is not "my order"
    assert mobile.get(f"{ORDERS}/{refused.order_id}").status_code == 404


def test_unknown_goods_and_bad_input(mobile, mall_offer):
    assert mobile.post(ORDERS, {"goodsId": "nope"}, format="json").json()["code"] == "E0002"
    bad = mobile.post(ORDERS, {"goodsId": mall_offer.goods_id, "teamId": "abc"}, format="json")
    assert (bad.status_code, bad.json()["code"]) == (400, "0002")
    assert "teamId" in bad.json()["data"]
    missing = mobile.post(ORDERS, {}, format="json")
    assert (missing.status_code, missing.json()["code"]) == (400, "0002")
    long_key = mobile.post(ORDERS, {"goodsId": mall_offer.goods_id}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 65)
    assert (long_key.status_code, long_key.json()["code"]) == (400, "0002")


def test_joining_through_the_api(mobile, mall_offer):
    team_id = mobile.post(ORDERS, {"goodsId": mall_offer.goods_id}, format="json").json()["data"]["teamId"]
    joined = (
        mobile_client("liergou").post(ORDERS, {"goodsId": mall_offer.goods_id, "teamId": team_id}, format="json").json()
    )
    assert (joined["code"], joined["data"]["teamId"]) == ("0000", team_id)


def test_my_orders_newest_first_paginated(mobile, mall_offer, django_assert_max_num_queries):
    offers = (mall_offer, an_offer(credential=mall_offer.credential), an_offer(credential=mall_offer.credential))
    created = [create_order("xiaofuge", goods_id=offer.goods_id).order_id for offer in offers]
    create_order("liergou", mall_offer.goods_id)
    with django_assert_max_num_queries(4):
        page = mobile.get(ORDERS, {"limit": 2}).json()
    assert page["code"] == "0000"
    data = page["data"]
    assert (data["count"], data["limit"], data["offset"]) == (3, 2, 0)
    assert [o["orderId"] for o in data["results"]] == created[::-1][:2]
    rest = mobile.get(ORDERS, {"limit": 2, "offset": 2}).json()["data"]["results"]
    assert [o["orderId"] for o in rest] == created[:1]


def test_order_detail_is_mine_only(mobile, mall_offer):
    order = create_order("xiaofuge", mall_offer.goods_id)
    detail = mobile.get(f"{ORDERS}/{order.order_id}").json()
    assert detail["code"] == "0000"
    data = detail["data"]
    assert (data["orderId"], data["goodsId"], data["status"], data["payAmount"]) == (
        order.order_id,
        mall_offer.goods_id,
        "PAY_WAIT",
        "80.00",
    )
    assert (data["totalAmount"], data["deductionAmount"], data["teamId"]) == ("100.00", "20.00", order.team_id)
    assert data["payUrl"].endswith(f"/pay/sandbox/{order.order_id}") and data["payDeadline"]
    assert data["refundRequired"] is False and data["payTime"] is None
    theirs = mobile_client("liergou").get(f"{ORDERS}/{order.order_id}")
    assert (theirs.status_code, theirs.json()["code"]) == (404, "0404")


def test_a_paid_order_has_no_pay_url(mobile, mall_offer):
    from django.utils import timezone

    order = create_order("xiaofuge", mall_offer.goods_id)
    mall_order_paid(order_id=order.order_id, trade_no="T1", paid_amount=order.pay_amount, paid_at=timezone.now())
    data = mobile.get(f"{ORDERS}/{order.order_id}").json()["data"]
    assert (data["status"], data["payUrl"], data["payDeadline"]) == ("PAY_SUCCESS", None, None)
    assert data["payTime"]


def test_team_detail_masks_members_and_says_who_may_join(mobile, mall_offer):
    order = create_order("xiaofuge", mall_offer.goods_id)
    create_order("liergou", mall_offer.goods_id, team_id=order.team_id)
    mine = mobile.get(f"/api/v1/mall/teams/{order.team_id}").json()
    assert mine["code"] == "0000"
    data = mine["data"]
    assert [m["userId"] for m in data["members"]] == ["xi***ge", "li***ou"]
    assert [(m["leader"], m["paid"], m["mine"]) for m in data["members"]] == [
        (True, False, True),
        (False, False, False),
    ]
    assert (data["targetCount"], data["lockCount"], data["completeCount"], data["seatsLeft"]) == (3, 2, 0, 1)
    assert (data["goodsId"], data["payPrice"], data["status"]) == (mall_offer.goods_id, "80.00", 0)
    assert (data["mine"], data["canJoin"]) == (True, False)
    assert len(data["validTimeCountdown"]) == 8
    other = mobile_client("demo1").get(f"/api/v1/mall/teams/{order.team_id}").json()["data"]
    assert (other["mine"], other["canJoin"]) == (False, True)
    missing = mobile.get("/api/v1/mall/teams/00000000")
    assert (missing.status_code, missing.json()["code"]) == (404, "0404")


def test_mall_and_signed_apis_write_a_teams_times_alike(mobile, mall_offer, client):
    # One team, asked through the mall API (token) and the signed API (partner mall's server): the same
    # instant, written the same way, in the project's time zone (TIME_ZONE Asia/Shanghai), never UTC "Z".
    order = create_order("xiaofuge", mall_offer.goods_id)
    body = json.dumps({"userId": "xiaofuge", **mall_offer.in_channel, "goodsId": mall_offer.goods_id}).encode()
    signed = client.post(
        MARKET, data=body, content_type="application/json",
        headers=signed_headers(mall_offer.secret, "POST", MARKET, body),
    ).json()["data"]["teamList"][0]  # fmt: skip
    team = mobile.get(f"/api/v1/mall/teams/{order.team_id}").json()["data"]
    assert signed["teamId"] == team["teamId"] == order.team_id
    assert (team["validStartTime"], team["validEndTime"]) == (signed["validStartTime"], signed["validEndTime"])
    assert team["validEndTime"].endswith("+08:00")
    detail = mobile.get(f"{ORDERS}/{order.order_id}").json()["data"]
    listed = mobile.get(ORDERS).json()["data"]["results"][0]
    for times in (detail, listed):
        assert times["orderTime"] == format_datetime(order.order_time) and times["orderTime"].endswith("+08:00")
        assert times["payDeadline"].endswith("+08:00")
