"""The own-teams mirror (apps/trade/own_teams.py) and the lock's nonce riding on its first Redis write.

The product page's trial skips the user's own-teams query only when Redis says the mirror is built and the user
holds no marker; every lock marks its user before it commits; the beat job rebuilds the mirror after a flush and
marks recent orders whose marker went missing. A signed lock records its nonce in the same script as the opener's
marker or the joiner's seat; a replay answers E0202 and takes nothing.
"""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.activities.tests.factories import Offer
from apps.channels.signing import signed_headers
from apps.common.redis import get_redis
from apps.trade import own_teams
from apps.trade.models import Order, Team
from apps.trade.own_teams import BUILT_KEY, own_teams_key, own_teams_mirror_rebuild, own_teams_mirror_sync
from apps.trade.tasks import sync_own_teams_mirror
from apps.trade.team_stock import team_seat_occupy
from apps.trade.tests.helpers import lock_team

pytestmark = pytest.mark.django_db

TRIAL_URL = "/api/v1/gbm/index/query_group_buy_market_config"
LOCK_URL = "/api/v1/gbm/trade/lock_market_pay_order"


def signed(client, offer: Offer, url: str, body: dict, headers: dict | None = None):
    raw = json.dumps({"source": offer.source, "channel": offer.channel, **body}).encode()
    headers = headers or signed_headers(offer.secret, "POST", url, raw)
    return client.post(url, data=raw, content_type="application/json", headers=headers), headers


def trial(client, offer: Offer, user_id: str) -> tuple[dict, list[str]]:
    """The trial's answer and the SQL it ran."""
    with CaptureQueriesContext(connection) as queries:
        response, _ = signed(client, offer, TRIAL_URL, {"userId": user_id, "goodsId": offer.goods_id})
    body = response.json()
    assert body["code"] == "0000", body
    return body["data"], [query["sql"] for query in queries.captured_queries]


def own_team_queries(sql: list[str]) -> int:
    """The user's own live orders with their teams (``selectors.own_live_teams``: orders aliased ``o``)."""
    orders = connection.ops.quote_name(Order._meta.db_table)
    return sum(f"FROM {orders} o JOIN" in query for query in sql)


def lock_body(offer: Offer, user_id: str, out_trade_no: str, team_id: str | None = None) -> dict:
    body = {"userId": user_id, "goodsId": offer.goods_id, "activityId": offer.activity_id, "outTradeNo": out_trade_no}
    return body | ({"teamId": team_id} if team_id else {})


def marker_of(offer: Offer, user_id: str) -> str:
    return own_teams_key(source=offer.source, channel=offer.channel, user_id=user_id)


# --- the trial reads the mirror ----------------------------------------------------------------------


def test_before_the_mirror_is_built_every_trial_queries_its_own_teams(client, offer):
    trial(client, offer, "warm-up")
    assert own_team_queries(trial(client, offer, "shopper")[1]) == 1


def test_a_built_mirror_spares_the_query_for_a_user_without_a_marker_and_not_for_one_with(client, offer):
    team_id = lock_team(offer, ("leader",))
    own_teams_mirror_rebuild()
    trial(client, offer, "warm-up")

    stranger, stranger_sql = trial(client, offer, "stranger")
    leader, leader_sql = trial(client, offer, "leader")

    assert own_team_queries(stranger_sql) == 0
    assert [team["teamId"] for team in stranger["teamList"]] == [team_id]  # joinable to others
    assert own_team_queries(leader_sql) == 1
    assert leader["teamList"][0]["teamId"] == team_id and leader["teamList"][0]["outTradeNo"]  # their own


def test_a_lock_marks_its_user_before_the_trial_can_miss_it(client, offer):
    own_teams_mirror_rebuild()  # built, no orders yet
    response, _ = signed(client, offer, LOCK_URL, lock_body(offer, "opener", "OTN-1"))
    team_id = response.json()["data"]["teamId"]
    lock_team(offer, ("joiner",), team_id=team_id)  # the service path, no signed call

    for user in ("opener", "joiner"):
        data, sql = trial(client, offer, user)
        assert own_team_queries(sql) == 1
        assert data["teamList"][0]["teamId"] == team_id and data["teamList"][0]["outTradeNo"]
    ttl = get_redis().ttl(marker_of(offer, "opener"))
    assert offer.activity.valid_time * 60 < ttl <= offer.activity.valid_time * 60 + own_teams.SLACK_SECONDS


def test_a_marker_keeps_the_longer_of_two_lifetimes(offer):
    key = marker_of(offer, "u")
    own_teams.OWN_TEAMS_MARK(keys=[key], args=[5000])
    own_teams.OWN_TEAMS_MARK(keys=[key], args=[100])
    assert get_redis().ttl(key) > 4000
    own_teams.OWN_TEAMS_MARK(keys=[key], args=[9000])
    assert get_redis().ttl(key) > 8000


def test_on_a_cluster_there_is_no_mirror_and_the_trial_queries(client, offer, monkeypatch):
    monkeypatch.setattr(own_teams, "redis_is_cluster", lambda: True)
    lock_team(offer, ("leader",))
    get_redis().set(BUILT_KEY, "1")  # even a flag left behind is not read

    assert own_team_queries(trial(client, offer, "stranger")[1]) == 1
    assert get_redis().get(marker_of(offer, "leader")) is None
    assert own_teams_mirror_sync() == {} and own_teams_mirror_rebuild() == 0


# --- rebuilt from the database -----------------------------------------------------------------------


def test_after_a_flush_the_job_rebuilds_every_open_team_holder_and_only_them(client, offer):
    open_team = lock_team(offer, ("a", "b"))
    expired = lock_team(offer, ("c",))
    now = timezone.now()
    Team.objects.filter(team_id=expired).update(valid_start_time=now - timedelta(hours=1), valid_end_time=now)
    done = lock_team(offer, ("d",))
    Team.objects.filter(team_id=done).update(status=Team.Status.COMPLETE)
    get_redis().flushdb()

    assert sync_own_teams_mirror() == {"rebuilt": 2}  # the beat task
    marked = {user for user in "abcd" if get_redis().exists(marker_of(offer, user))}
    assert marked == {"a", "b"} and get_redis().exists(BUILT_KEY)
    data, sql = trial(client, offer, "a")
    assert own_team_queries(sql) == 1 and data["teamList"][0]["teamId"] == open_team
    assert own_teams_mirror_sync() == {"caught_up": 2}  # built: the next runs only look at recent orders


def test_a_flush_in_the_middle_of_a_rebuild_leaves_the_mirror_unbuilt(offer, monkeypatch):
    lock_team(offer, ("a",))
    get_redis().flushdb()
    holders = own_teams._open_team_holders

    def flushed_meanwhile(**kwargs):
        rows = list(holders(**kwargs))
        get_redis().flushdb()
        return rows

    monkeypatch.setattr(own_teams, "_open_team_holders", flushed_meanwhile)
    own_teams_mirror_rebuild()
    assert not get_redis().exists(BUILT_KEY)


def test_the_job_marks_a_recent_order_whose_marker_was_lost(client, offer):
    lock_team(offer, ("old",))
    own_teams_mirror_rebuild()
    key = marker_of(offer, "old")
    get_redis().delete(key)  # the lock could not write it (Redis briefly away)

    assert own_teams_mirror_sync() == {"caught_up": 1}
    assert get_redis().exists(key)
    Order.objects.update(create_time=timezone.now() - timedelta(seconds=own_teams.CATCH_UP_SECONDS + 1))
    get_redis().delete(key)
    assert own_teams_mirror_sync() == {"caught_up": 0}  # older ones wait for the next rebuild


def test_an_open_whose_marker_cannot_be_written_still_opens(offer, monkeypatch, caplog):
    def unreachable(*args, **kwargs):
        raise ConnectionError("Redis away")

    monkeypatch.setattr(own_teams, "OWN_TEAMS_MARK", unreachable)
    team_id = lock_team(offer, ("leader",))
    assert Team.objects.filter(team_id=team_id).exists()
    assert "marker not written" in caplog.text


# --- the lock's nonce rides on its first Redis write -------------------------------------------------


def test_a_signed_open_records_its_nonce_with_the_marker_in_one_call(client, offer, redis_commands):
    signed(client, offer, LOCK_URL, lock_body(offer, "warm", "OTN-warm"))  # caches filled

    redis_commands.clear()
    response, headers = signed(client, offer, LOCK_URL, lock_body(offer, "opener", "OTN-1"))
    calls = redis_commands.copy()
    replay, _ = signed(client, offer, LOCK_URL, lock_body(offer, "opener", "OTN-1"), headers=headers)

    assert response.json()["code"] == "0000"
    assert calls == {"EVALSHA": 1}, calls
    assert replay.status_code == 401 and replay.json()["code"] == "E0202"


def test_a_signed_join_records_its_nonce_with_the_seat_in_one_call_and_a_replay_takes_no_seat(
    client, offer, redis_commands
):
    team_id = signed(client, offer, LOCK_URL, lock_body(offer, "leader", "OTN-L"))[0].json()["data"]["teamId"]
    other = signed(client, offer, LOCK_URL, lock_body(offer, "leader-2", "OTN-L2"))[0].json()["data"]["teamId"]
    signed(client, offer, LOCK_URL, lock_body(offer, "warm", "OTN-warm", other))  # the join's script loaded

    redis_commands.clear()
    joined, headers = signed(client, offer, LOCK_URL, lock_body(offer, "joiner", "OTN-J", team_id))
    calls = redis_commands.copy()
    replay, _ = signed(client, offer, LOCK_URL, lock_body(offer, "joiner", "OTN-J", team_id), headers=headers)

    assert joined.json()["code"] == "0000" and calls == {"EVALSHA": 1}, calls
    assert replay.json()["code"] == "E0202"
    assert Team.objects.get(team_id=team_id).lock_count == 2
    # One seat left for joiners (target 3): the replay did not take it.
    assert team_seat_occupy(team_id=team_id, out_trade_no="OTN-other", target=3, valid_minutes=15).name == "TAKEN"


def test_a_replayed_refusal_answers_e0202(client, offer):
    first, headers = signed(client, offer, LOCK_URL, lock_body(offer, "u", "OTN-1", "10000000"))
    replay, _ = signed(client, offer, LOCK_URL, lock_body(offer, "u", "OTN-1", "10000000"), headers=headers)
    invalid, invalid_headers = signed(client, offer, LOCK_URL, {"userId": "u"})
    invalid_replay, _ = signed(client, offer, LOCK_URL, {"userId": "u"}, headers=invalid_headers)

    assert (first.json()["code"], replay.json()["code"]) == ("E0002", "E0202")
    assert (invalid.json()["code"], invalid_replay.json()["code"]) == ("0002", "E0202")


def test_a_replayed_retry_of_a_locked_order_answers_e0202_and_a_fresh_retry_the_order(client, offer):
    first, headers = signed(client, offer, LOCK_URL, lock_body(offer, "u", "OTN-1"))
    replay, _ = signed(client, offer, LOCK_URL, lock_body(offer, "u", "OTN-1"), headers=headers)
    retry, _ = signed(client, offer, LOCK_URL, lock_body(offer, "u", "OTN-1"))

    assert replay.json()["code"] == "E0202"
    assert retry.json() == first.json()


def test_on_a_cluster_the_lock_records_its_nonce_apart_with_the_same_answers(client, offer, monkeypatch):
    monkeypatch.setattr(own_teams, "redis_is_cluster", lambda: True)
    team_id = signed(client, offer, LOCK_URL, lock_body(offer, "leader", "OTN-L"))[0].json()["data"]["teamId"]
    joined, headers = signed(client, offer, LOCK_URL, lock_body(offer, "joiner", "OTN-J", team_id))
    replay, _ = signed(client, offer, LOCK_URL, lock_body(offer, "joiner", "OTN-J", team_id), headers=headers)

    assert (joined.json()["code"], replay.json()["code"]) == ("0000", "E0202")
    assert Team.objects.get(team_id=team_id).lock_count == 2
