"""POST /api/v1/gbm/index/query_group_buy_market_config: signed, rate limited, the spec's shape."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers

from apps.activities.tests.factories import Offer, an_offer
from apps.channels.signing import signed_headers
from apps.storefront.apis import MarketConfigOut
from apps.storefront.market import market_config_query
from apps.tags.services import crowd_tag_add_members
from apps.tags.tests.factories import CrowdTagFactory
from apps.trade.models import Team
from apps.trade.tests.factories import OrderFactory, TeamFactory
from apps.trade.tests.helpers import lock_team

pytestmark = pytest.mark.django_db

URL = "/api/v1/gbm/index/query_group_buy_market_config"


def query(client, offer: Offer, body: dict | bytes, *, secret: str = "", headers: dict | None = None):
    """POST ``body`` signed with ``offer``'s channel secret (or ``secret``)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = headers or signed_headers(secret or offer.secret, "POST", URL, raw)
    return client.post(URL, data=raw, content_type="application/json", headers=headers)


def ask(offer: Offer, user_id="xiaofuge", goods_id="", source="") -> dict:
    """The trial of ``offer``'s goods (or ``goods_id``) in its channel (or another ``source``)."""
    return {"userId": user_id, "source": source or offer.source, "channel": offer.channel,
            "goodsId": goods_id or offer.goods_id}  # fmt: skip


def test_answer_has_the_contracts_shape(client, offer):
    response = query(client, offer, ask(offer))
    body = response.json()
    assert response.status_code == 200, body
    assert body["code"] == "0000"
    data = body["data"]
    assert data["activityId"] == offer.activity_id
    assert data["goods"] == {
        "goodsId": offer.goods_id, "goodsName": offer.sku.goods_name,
        "originalPrice": "100.00", "deductionPrice": "20.00", "payPrice": "80.00",
        "leaderPayPrice": None, "leaderDeductionPrice": None,  # no leader offer
    }  # fmt: skip
    assert (data["isVisible"], data["isEnable"], data["joinEnable"], data["reason"]) == (True, True, True, None)
    assert data["teamList"] == []
    assert data["teamStatistic"] == {"allTeamCount": 0, "allTeamCompleteCount": 0, "allTeamUserCount": 0}


def test_team_list_is_my_team_then_two_joinable_ending_soonest(client, offer):
    now = timezone.now()

    def team(minutes_left, lock=1, status=Team.Status.IN_PROGRESS):
        return TeamFactory(
            activity=offer.activity, **offer.in_channel, lock_count=lock, status=status,
            valid_start_time=now - timedelta(minutes=10), valid_end_time=now + timedelta(minutes=minutes_left),
        )  # fmt: skip

    mine = team(14, lock=3)  # full, but mine: still shown first
    OrderFactory(team=mine, user_id="xiaofuge", out_trade_no="MY-OTN", **offer.in_channel)
    soonest, second, _third = team(5), team(7), team(9)
    team(2, lock=3)  # full and not mine
    team(-1)  # expired
    team(3, status=Team.Status.COMPLETE, lock=3)
    data = query(client, offer, ask(offer)).json()["data"]
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


def test_warm_request_makes_at_most_two_sql_queries(client, offer, django_assert_max_num_queries):
    query(client, offer, ask(offer, user_id="demo1"))  # warms activity, SKU, mapping, credential and statistics caches
    with django_assert_max_num_queries(2):
        response = query(client, offer, ask(offer, user_id="demo2"))
    assert response.json()["code"] == "0000"


def test_a_warm_trial_is_one_query_with_or_without_an_own_team(offer, django_assert_num_queries):
    """The user's own live orders and their teams are one join; everything else is cached. Pinned."""
    lock_team(offer, ("demo1",))
    ask = {**offer.in_channel, "goods_id": offer.goods_id}
    market_config_query(user_id="demo9", **ask)  # warms SKU, mapping, activity, joinable teams, statistics
    with django_assert_num_queries(1):
        own = market_config_query(user_id="demo1", **ask)
    with django_assert_num_queries(1):
        other = market_config_query(user_id="demo2", **ask)
    assert own.teams[0].mine and own.teams[0].out_trade_no == "OTN-demo1"
    assert not any(team.mine for team in other.teams)


def test_crowd_tag_hides_the_offer_from_outsiders(client, offer):
    crowd = CrowdTagFactory.create()
    crowd_tag_add_members(tag=crowd, user_ids=["liergou"])
    members_only = an_offer(credential=offer.credential, members_only=crowd)
    outsider = query(client, offer, ask(members_only, user_id="demo1")).json()["data"]
    member = query(client, offer, ask(members_only, user_id="liergou")).json()["data"]
    assert (outsider["isVisible"], outsider["isEnable"], outsider["teamList"]) == (False, False, [])
    assert (member["isVisible"], member["isEnable"]) == (True, True)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"goodsId": "g1"}, {"userId"}),
        ({"userId": "", "goodsId": "g1"}, {"userId"}),
        ({"userId": ["x"], "goodsId": {"a": 1}}, {"userId", "goodsId"}),
        ({"userId": "u" * 65, "goodsId": "g1"}, {"userId"}),
    ],
)
def test_bad_input_is_0002_with_field_errors(client, offer, body, fields):
    response = query(client, offer, {**offer.in_channel, **body})  # signed in its channel
    payload = response.json()
    assert (response.status_code, payload["code"]) == (400, "0002"), payload
    assert set(payload["data"]) == fields


def test_malformed_json_is_0002(client, offer):
    response = query(client, offer, b"{not json")
    assert (response.status_code, response.json()["code"]) == (400, "0002")


def test_unknown_goods_is_e0002(client, offer):
    response = query(client, offer, ask(offer, goods_id="404"))
    assert (response.status_code, response.json()["code"]) == (200, "E0002")


def test_signature_problems_are_401(client, offer):
    assert query(client, offer, ask(offer), secret="wrong-secret").json()["code"] == "E0201"
    raw = json.dumps(ask(offer, user_id="demo3")).encode()
    headers = signed_headers(offer.secret, "POST", URL, raw)
    assert query(client, offer, raw, headers=headers).status_code == 200
    replay = query(client, offer, raw, headers=headers)
    assert (replay.status_code, replay.json()["code"]) == (401, "E0202")
    unknown = query(client, offer, ask(offer, source="s99"))
    assert (unknown.status_code, unknown.json()["code"]) == (401, "E0203")


def test_second_request_within_a_second_is_rate_limited(client, offer):
    assert query(client, offer, ask(offer, user_id="demo4")).status_code == 200
    limited = query(client, offer, ask(offer, user_id="demo4"))
    assert (limited.status_code, limited.json()["code"]) == (429, "0006")
    assert query(client, offer, ask(offer, user_id="demo5")).status_code == 200  # per user


def test_rate_limit_can_be_switched_off(client, offer, set_dcc):
    set_dcc("rateLimiterSwitch", "close")
    for _ in range(3):
        assert query(client, offer, ask(offer, user_id="demo6")).json()["code"] == "0000"


def test_downgrade_and_cut_range_reach_the_client(client, offer, set_dcc):
    set_dcc("cutRange", "50")
    assert query(client, offer, ask(offer, user_id="xiaofuge")).json()["code"] == "E0004"  # bucket 80
    set_dcc("downgradeSwitch", "1")
    assert query(client, offer, ask(offer, user_id="demo7")).json()["code"] == "E0003"


def test_schema_documents_the_endpoint(client):
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"][URL]["post"]
    assert operation["operationId"] == "query_group_buy_market_config"
    assert operation["security"]
