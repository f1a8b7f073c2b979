"""The operators' limits on the mall's own order path (``POST /api/v1/mall/orders`` and the goods page's buy
button): a refusal closes the order with its code, the shopper reads plain words, a retry answers the same."""

import pytest
from django.contrib.messages import get_messages

from apps.activities.tests.factories import an_offer
from apps.payments.models import PayOrder
from apps.payments.tests.helpers import login, mobile_client
from apps.trade.models import DailyTakes, Order
from apps.trade.tests.helpers import lock_team

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/mall/orders"


def test_a_new_team_beyond_the_limit_is_refused_and_the_order_closed_with_e0108(mall_offer):
    limited = an_offer(credential=mall_offer.credential, max_teams_formed=1)
    team_id = lock_team(limited, ("other",))
    mobile = mobile_client("xiaofuge")
    refused = mobile.post(ORDERS, {"goodsId": limited.goods_id}, format="json", HTTP_IDEMPOTENCY_KEY="k1").json()
    assert (refused["code"], refused["data"]) == ("E0108", {"reason": "join_open_team"})  # open teams may be joined
    closed = PayOrder.objects.get(market_code="E0108")
    assert closed.status == PayOrder.Status.CLOSE
    again = mobile.post(ORDERS, {"goodsId": limited.goods_id}, format="json", HTTP_IDEMPOTENCY_KEY="k1").json()
    assert again["code"] == "E0108" and PayOrder.objects.count() == 1  # the retry answers the same refusal
    joined = mobile.post(ORDERS, {"goodsId": limited.goods_id, "teamId": team_id}, format="json").json()
    assert (joined["code"], joined["data"]["teamId"]) == ("0000", team_id)  # joining the open team still works


def test_the_daily_take_limit_refuses_the_next_order_with_e0109_but_not_a_retry(mall_offer):
    mall_offer.credential.daily_take_limit = 1
    mall_offer.credential.save()
    other = an_offer(credential=mall_offer.credential)
    mobile = mobile_client("xiaofuge")
    first = mobile.post(ORDERS, {"goodsId": mall_offer.goods_id}, format="json", HTTP_IDEMPOTENCY_KEY="a").json()
    assert first["code"] == "0000"
    assert mobile.post(ORDERS, {"goodsId": mall_offer.goods_id}, format="json",
                       HTTP_IDEMPOTENCY_KEY="a").json() == first  # fmt: skip
    refused = mobile.post(ORDERS, {"goodsId": other.goods_id}, format="json", HTTP_IDEMPOTENCY_KEY="b").json()
    assert refused["code"] == "E0109"
    assert PayOrder.objects.get(idempotency_key="b").market_code == "E0109"
    assert DailyTakes.objects.get(user_id="xiaofuge").takes == 1
    assert Order.objects.filter(user_id="xiaofuge").count() == 1


def test_the_goods_page_tells_the_shopper_why(client, mall_offer):
    mall_offer.credential.daily_take_limit = 1
    mall_offer.credential.save()
    other = an_offer(credential=mall_offer.credential)
    login(client, "xiaofuge")
    client.post(f"/goods/{mall_offer.goods_id}/buy", {"idempotency_key": "p1"})
    response = client.post(f"/goods/{other.goods_id}/buy", {"idempotency_key": "p2"}, HTTP_ACCEPT_LANGUAGE="en")
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "You have reached today's group-buy limit in this shop. Please come back tomorrow."
    ]
