"""POST /api/v1/gbm/index/query_group_buy_market_config: signed, rate limited, the spec's shape."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers

from apps.channels.signing import signed_headers
from apps.storefront.apis import MarketConfigOut
from apps.storefront.market import market_config_query
from apps.trade.models import Team
from apps.trade.tests.factories import OrderFactory, TeamFactory
from apps.trade.tests.helpers import lock_demo_team

pytestmark = pytest.mark.django_db

URL = "/api/v1/gbm/index/query_group_buy_market_config"
SECRET = "s01c01-demo-secret"


def query(client, body: dict | bytes, *, secret: str = SECRET, headers: dict | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = headers or signed_headers(secret, "POST", URL, raw)
    return client.post(URL, data=raw, content_type="application/json", headers=headers)


def ask(user_id="xiaofuge", goods_id="9890001", source="s01", channel="c01") -> dict:
    return {"userId": user_id, "source": source, "channel": channel, "goodsId": goods_id}


def test_answer_has_the_contracts_shape(client, demo):
    response = query(client, ask())
    body = response.json()
    assert response.status_code == 200, body
    assert body["code"] == "0000"
    data = body["data"]
    assert data["activityId"] == 100123
    assert data["goods"] == {
        "goodsId": "9890001", "goodsName": "手写MyBatis：渐进式源码实践",
        "originalPrice": "100.00", "deductionPrice": "20.00", "payPrice": "80.00",
    }  # fmt: skip
    assert (data["isVisible"], data["isEnable"]) == (True, True)
    assert data["teamList"] == []
    assert data["teamStatistic"] == {"allTeamCount": 0, "allTeamCompleteCount": 0, "allTeamUserCount": 0}


def test_team_list_is_my_team_then_two_joinable_ending_soonest(client, demo):
    now = timezone.now()

    def team(minutes_left, lock=1, status=Team.Status.IN_PROGRESS):
        return TeamFactory(
            activity_id=100123, lock_count=lock, status=status,
            valid_start_time=now - timedelta(minutes=10), valid_end_time=now + timedelta(minutes=minutes_left),
        )  # fmt: skip

    mine = team(14, lock=3)  # full, but mine: still shown first
    OrderFactory(team=mine, user_id="xiaofuge", out_trade_no="MY-OTN", activity_id=100123)
    soonest, second, _third = team(5), team(7), team(9)
    team(2, lock=3)  # full and not mine
    team(-1)  # expired
    team(3, status=Team.Status.COMPLETE, lock=3)
    data = query(client, ask()).json()["data"]
    teams = data["teamList"]
    assert [t["teamId"] for t in teams] == [mine.team_id, soonest.team_id, second.team_id]
    assert teams[0]["outTradeNo"] == "MY-OTN" and teams[0]["userId"] == "xiaofuge"
    assert teams[1]["outTradeNo"] is None
    assert re.fullmatch(r"00:0[45]:\d\d", teams[1]["validTimeCountdown"])
    assert data["teamStatistic"]["allTeamCount"] == 7
    assert data["teamStatistic"]["allTeamCompleteCount"] == 1
    # Built by hand for speed: it must read exactly as the documented serializer would write it.
    assert MarketConfigOut(data).data == data
    assert teams[0]["validEndTime"] == serializers.DateTimeField().to_representation(mine.valid_end_time)


def test_warm_request_makes_at_most_two_sql_queries(client, demo, django_assert_max_num_queries):
    query(client, ask(user_id="demo1"))  # warms activity, SKU, mapping, credential and statistics caches
    with django_assert_max_num_queries(2):
        response = query(client, ask(user_id="demo2"))
    assert response.json()["code"] == "0000"


def test_a_warm_trial_is_one_query_with_or_without_an_own_team(demo, django_assert_num_queries):
    """The user's own live orders and their teams are one join; everything else is cached. Pinned."""
    lock_demo_team(("demo1",))
    ask = {"source": "s01", "channel": "c01", "goods_id": "9890001"}
    market_config_query(user_id="demo9", **ask)  # warms SKU, mapping, activity, joinable teams, statistics
    with django_assert_num_queries(1):
        own = market_config_query(user_id="demo1", **ask)
    with django_assert_num_queries(1):
        other = market_config_query(user_id="demo2", **ask)
    assert own.teams[0].mine and own.teams[0].out_trade_no == "OTN-demo1"
    assert not any(team.mine for team in other.teams)


def test_crowd_tag_hides_the_offer_from_outsiders(client, demo):
    outsider = query(client, ask(user_id="demo1", goods_id="9890005")).json()["data"]
    member = query(client, ask(user_id="liergou", goods_id="9890005")).json()["data"]
    assert (outsider["isVisible"], outsider["isEnable"], outsider["teamList"]) == (False, False, [])
    assert (member["isVisible"], member["isEnable"]) == (True, True)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"source": "s01", "channel": "c01", "goodsId": "9890001"}, {"userId"}),
        ({"userId": "", "source": "s01", "channel": "c01", "goodsId": "9890001"}, {"userId"}),
        ({"userId": ["x"], "source": "s01", "channel": "c01", "goodsId": {"a": 1}}, {"userId", "goodsId"}),
        ({"userId": "u" * 65, "source": "s01", "channel": "c01", "goodsId": "9890001"}, {"userId"}),
    ],
)
def test_bad_input_is_0002_with_field_errors(client, demo, body, fields):
    response = query(client, body)
    payload = response.json()
    assert (response.status_code, payload["code"]) == (400, "0002"), payload
    assert set(payload["data"]) == fields


def test_malformed_json_is_0002(client, demo):
    response = query(client, b"{not json")
    assert (response.status_code, response.json()["code"]) == (400, "0002")


def test_unknown_goods_is_e0002(client, demo):
    response = query(client, ask(goods_id="404"))
    assert (response.status_code, response.json()["code"]) == (200, "E0002")


def test_signature_problems_are_401(client, demo):
    assert query(client, ask(), secret="wrong-secret").json()["code"] == "E0201"
    raw = json.dumps(ask(user_id="demo3")).encode()
    headers = signed_headers(SECRET, "POST", URL, raw)
    assert query(client, raw, headers=headers).status_code == 200
    replay = query(client, raw, headers=headers)
    assert (replay.status_code, replay.json()["code"]) == (401, "E0202")
    unknown = query(client, ask(source="s99"))
    assert (unknown.status_code, unknown.json()["code"]) == (401, "E0203")


def test_second_request_within_a_second_is_rate_limited(client, demo):
    assert query(client, ask(user_id="demo4")).status_code == 200
    limited = query(client, ask(user_id="demo4"))
    assert (limited.status_code, limited.json()["code"]) == (429, "0006")
    assert query(client, ask(user_id="demo5")).status_code == 200  # per user


def test_rate_limit_can_be_switched_off(client, demo, set_dcc):
    set_dcc("rateLimiterSwitch", "close")
    for _ in range(3):
        assert query(client, ask(user_id="demo6")).json()["code"] == "0000"


def test_downgrade_and_cut_range_reach_the_client(client, demo, set_dcc):
    set_dcc("cutRange", "50")
    assert query(client, ask(user_id="xiaofuge")).json()["code"] == "E0004"  # bucket 80
    set_dcc("downgradeSwitch", "1")
    assert query(client, ask(user_id="demo7")).json()["code"] == "E0003"


def test_schema_documents_the_endpoint(client):
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"][URL]["post"]
    assert operation["operationId"] == "query_group_buy_market_config"
    assert operation["security"]
