"""Channel isolation (api.md "Channel isolation"): a mall holding only its own secret can neither act as
another channel nor see one. Every attack goes through the signed HTTP API, as a mall would send it.

The victim is channel s01/c01 with an offer of its own; the attacker is channel s03/c03 (not blacklisted), whose
mapping sells the same goods in the same activity. The names are spelled out because raw bodies below carry them.
"""

import json

import pytest

from apps.activities.tests.factories import Offer, ScSkuActivityFactory, an_offer
from apps.channels.models import ChannelCredential
from apps.channels.signing import signed_headers
from apps.channels.tests.factories import ChannelCredentialFactory
from apps.notifications.models import NotifyTask
from apps.trade.models import Order, Team
from apps.trade.tests.helpers import lock_team
from apps.trade.tests.invariants import assert_trade_invariants

pytestmark = pytest.mark.django_db

ATTACKER_SECRET = "s03c03-attacker-secret"
VICTIM_SECRET = "s01c01-victim-secret"
LOCK = "/api/v1/gbm/trade/lock_market_pay_order"
SETTLE = "/api/v1/gbm/trade/settlement_market_pay_order"
REFUND = "/api/v1/gbm/trade/refund_market_pay_order"
TRIAL = "/api/v1/gbm/index/query_group_buy_market_config"
PROGRESS = "/api/v1/gbm/trade/team_progress"


@pytest.fixture
def victim(db) -> Offer:
    """The victim's offer on s01/c01, sold by the attacker s03/c03 too (its callbacks may go to two hosts)."""
    offer = an_offer(credential=ChannelCredentialFactory.create(source="s01", channel="c01", secret=VICTIM_SECRET))
    ChannelCredentialFactory.create(
        source="s03", channel="c03", secret=ATTACKER_SECRET, notify_hosts="mall.example\n*.shop.example"
    )
    ScSkuActivityFactory.create(source="s03", channel="c03", sku=offer.sku, activity=offer.activity)
    return offer


def signed_post(client, path: str, raw: bytes, *, secret: str = ATTACKER_SECRET, content_type="application/json"):
    headers = signed_headers(secret, "POST", path, raw)
    return client.post(path, data=raw, content_type=content_type, headers=headers, HTTP_ACCEPT_LANGUAGE="en")


def as_attacker(client, path: str, body: dict):
    return signed_post(client, path, json.dumps({"source": "s03", "channel": "c03", **body}).encode())


def lock_body(victim: Offer, **overrides) -> dict:
    """The attacker's lock of the victim's goods."""
    return {"userId": "demo1", "activityId": victim.activity_id, "goodsId": victim.goods_id, "outTradeNo": "ATTACK-1",
            **overrides}  # fmt: skip


# --- one parse, from the verified bytes ------------------------------------------------------------


def test_charset_smuggling_is_refused_and_changes_nothing(client, victim):
    """UTF-8 reads the attacker (s03, whose secret signs it); UTF-7 would read the victim (s01)."""
    lock_team(victim, ("demo1",))
    victim_order = Order.objects.get()
    smuggled = (
        b'{"source":"s03","channel":"c03","userId":"demo1","outTradeNo":"OTN-demo1",'
        b'"x":"+ACIALAAi-source+ACIAOgAi-s01+ACIALAAi-channel+ACIAOgAi-c01"}'
    )
    assert json.loads(smuggled.decode("utf-7"))["source"] == "s01"  # the attack is real
    response = signed_post(client, REFUND, smuggled, content_type="application/json; charset=utf-7")
    assert (response.status_code, response.json()["code"]) == (415, "0002"), response.content
    victim_order.refresh_from_db()
    assert victim_order.status == Order.Status.LOCKED
    assert not NotifyTask.objects.exists()


@pytest.mark.parametrize("charset", ["latin-1", "utf-16", "UTF-7", "gbk"])
def test_any_other_charset_is_415(client, victim, charset):
    response = signed_post(
        client, LOCK, json.dumps({"source": "s03", "channel": "c03", **lock_body(victim)}).encode(),
        content_type=f"application/json; charset={charset}",
    )  # fmt: skip
    assert (response.status_code, response.json()["code"]) == (415, "0002")
    assert not Order.objects.exists()


def test_a_get_with_another_charset_is_415_too(client, victim):
    headers = signed_headers(ATTACKER_SECRET, "GET", PROGRESS, b"")
    response = client.get(
        PROGRESS, {"teamId": "12345678", "source": "s03", "channel": "c03"},
        headers=headers, CONTENT_TYPE="text/plain; charset=utf-7",
    )  # fmt: skip
    assert (response.status_code, response.json()["code"]) == (415, "0002")


def test_utf8_named_explicitly_is_accepted(client, victim):
    response = signed_post(
        client, LOCK, json.dumps({"source": "s03", "channel": "c03", **lock_body(victim)}).encode(),
        content_type="application/json; charset=UTF-8",
    )  # fmt: skip
    assert response.json()["code"] == "0000", response.content


@pytest.mark.parametrize(
    "raw",
    [
        b'{"source":"s03","channel":"c03","source":"s01","userId":"demo1","outTradeNo":"OTN-demo1"}',
        b'{"source":"s03","channel":"c03","userId":"demo1","userId":"demo2","outTradeNo":"OTN-demo1"}',
        b'{"source":"s03","channel":"c03","userId":"demo1","outTradeNo":"OTN-demo1","x":NaN}',
        b'{"source":"s03","channel":"c03","userId":"d\xe9mo1","outTradeNo":"OTN-demo1"}',  # latin-1 bytes
        '\ufeff{"source":"s03","channel":"c03","userId":"demo1","outTradeNo":"OTN-demo1"}'.encode(),
    ],
    ids=["repeated source", "repeated userId", "NaN", "invalid UTF-8", "BOM"],
)
def test_bodies_that_readers_could_disagree_on_are_0002(client, victim, raw):
    lock_team(victim, ("demo1",))
    response = signed_post(client, REFUND, raw)
    assert (response.status_code, response.json()["code"]) == (400, "0002"), response.content
    assert Order.objects.get().status == Order.Status.LOCKED


def test_a_repeated_query_parameter_is_0002(client, victim):
    headers = signed_headers(ATTACKER_SECRET, "GET", PROGRESS, b"")
    response = client.get(
        f"{PROGRESS}?teamId=12345678&source=s03&channel=c03&channel=c01", headers=headers, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert (response.status_code, response.json()["code"]) == (400, "0002")
    assert response.json()["data"] == {"channel": ["This parameter is repeated."]}


def test_parameters_that_differ_from_the_verified_caller_are_e0201(rf, victim):
    """The view's serializer must never act for a channel the signature did not name."""
    from rest_framework import serializers

    from apps.channels.authentication import signed_call_verify
    from apps.channels.signed_api import signed_params
    from apps.common.errors import GroupBuyError

    class Renaming(serializers.Serializer):
        source = serializers.CharField()
        channel = serializers.CharField()

        def validate_source(self, value: str) -> str:
            return "s01"  # a normalisation that changes the channel

    raw = b'{"source":"s03","channel":"c03"}'
    request = rf.post(LOCK, data=raw, content_type="application/json", headers=signed_headers(ATTACKER_SECRET,
                      "POST", LOCK, raw))  # fmt: skip
    call = signed_call_verify(request)
    with pytest.raises(GroupBuyError) as refused:
        signed_params(call, Renaming)
    assert (refused.value.http_status, refused.value.code) == (401, "E0201")
    # The hot paths' plain validators (apps.common.params) go through the same check.
    with pytest.raises(GroupBuyError) as refused:
        signed_params(call, lambda params: {**params, "source": "s01"})
    assert (refused.value.http_status, refused.value.code) == (401, "E0201")
    assert signed_params(call, lambda params: dict(params)) == {"source": "s03", "channel": "c03"}


# --- what a channel sees ---------------------------------------------------------------------------


def test_trial_lists_only_the_channels_own_teams(client, victim):
    lock_team(victim, ("demo1",))  # the victim's shopper demo1 opened a team on s01
    data = as_attacker(client, TRIAL, {"userId": "demo1", "goodsId": victim.goods_id}).json()["data"]
    assert data["teamList"] == []  # neither as "demo1's own team" nor as a joinable one: no outTradeNo leaks
    assert data["teamStatistic"] == {"allTeamCount": 0, "allTeamCompleteCount": 0, "allTeamUserCount": 0}
    raw = json.dumps({"source": "s01", "channel": "c01", "userId": "demo2", "goodsId": victim.goods_id}).encode()
    victim_view = signed_post(client, TRIAL, raw, secret=VICTIM_SECRET).json()["data"]
    assert [team["userId"] for team in victim_view["teamList"]] == ["de***o1"]  # another shopper: masked
    assert victim_view["teamList"][0]["outTradeNo"] is None


def test_team_progress_of_another_channels_team_is_not_found(client, victim):
    team_id = lock_team(victim, ("demo1",))
    headers = signed_headers(ATTACKER_SECRET, "GET", PROGRESS, b"")
    response = client.get(PROGRESS, {"teamId": team_id, "source": "s03", "channel": "c03"}, headers=headers)
    assert (response.status_code, response.json()["code"]) == (400, "0002")
    assert team_id not in response.content.decode()


# --- what a channel does ---------------------------------------------------------------------------


def test_joining_another_channels_team_is_e0002_and_takes_no_seat(client, victim):
    team_id = lock_team(victim, ("demo1",))
    response = as_attacker(client, LOCK, lock_body(victim, userId="mallory", teamId=team_id))
    assert response.json()["code"] == "E0002"
    assert Team.objects.get(team_id=team_id).lock_count == 1
    assert not Order.objects.filter(source="s03").exists()
    assert_trade_invariants()


def test_a_user_id_is_the_channels_own_namespace(client, victim):
    """s03 locking userId=demo1 takes nothing from s01's demo1 (take limit 1 in both)."""
    assert as_attacker(client, LOCK, lock_body(victim, userId="demo1")).json()["code"] == "0000"
    assert as_attacker(client, LOCK, lock_body(victim, userId="demo1", outTradeNo="ATTACK-2")).json()["code"] == "E0103"
    lock_team(victim, ("demo1",))  # would raise E0103 if the slot were shared
    assert Order.objects.filter(user_id="demo1").count() == 2


def test_refund_and_settle_of_another_channels_order_are_e0104(client, victim):
    lock_team(victim, ("demo1",))
    refund = as_attacker(client, REFUND, {"userId": "demo1", "outTradeNo": "OTN-demo1"})
    settle = as_attacker(client, SETTLE, {"userId": "demo1", "outTradeNo": "OTN-demo1",
                                          "outTradeTime": "2030-01-01 00:00:00"})  # fmt: skip
    assert (refund.json()["code"], settle.json()["code"]) == ("E0104", "E0104")
    assert Order.objects.get().status == Order.Status.LOCKED
    assert not NotifyTask.objects.exists()


def test_one_channels_trials_do_not_rate_limit_another_channels_shopper(client, victim, set_dcc):
    set_dcc("rateLimitPermitsPerSecond", "1")
    answers = [
        as_attacker(client, TRIAL, {"userId": "demo1", "goodsId": victim.goods_id}).status_code for _ in range(4)
    ]
    assert 429 in answers
    raw = json.dumps({"source": "s01", "channel": "c01", "userId": "demo1", "goodsId": victim.goods_id}).encode()
    assert signed_post(client, TRIAL, raw, secret=VICTIM_SECRET).status_code == 200


# --- where callbacks go ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://mall.example/cb", True),
        ("http://api.shop.example:8080/cb", True),
        ("https://shop.example/cb", False),  # *.shop.example is for subdomains
        ("https://evil.example/cb", False),
        ("http://127.0.0.1:8000/cb", False),
        ("http://localhost/cb", False),
        ("http://10.0.0.1/cb", False),
        ("http://169.254.169.254/latest/meta-data/", False),
        ("http://[::1]/cb", False),
        ("http://user:pw@mall.example/cb", False),
        ("ftp://mall.example/cb", False),
    ],
)
def test_notify_url_must_be_an_allowed_host(client, victim, url, allowed):
    response = as_attacker(client, LOCK, lock_body(victim, notifyConfigVO={"notifyType": "HTTP", "notifyUrl": url}))
    payload = response.json()
    if allowed:
        assert payload["code"] == "0000", payload
        assert Team.objects.get().notify_url == url
    else:
        assert (response.status_code, payload["code"]) == (400, "0002"), payload
        assert "notifyUrl" in payload["data"]
        assert not Order.objects.exists()


def test_private_addresses_need_the_channels_explicit_allowance(client, victim, django_capture_on_commit_callbacks):
    ChannelCredential.objects.filter(source="s03").update(notify_hosts="10.0.0.1")
    body = lock_body(victim, notifyConfigVO={"notifyType": "HTTP", "notifyUrl": "http://10.0.0.1/cb"})
    assert as_attacker(client, LOCK, body).json()["code"] == "0002"  # listed, but private
    credential = ChannelCredential.objects.get(source="s03")
    credential.notify_private_allowed = True
    with django_capture_on_commit_callbacks(execute=True):
        credential.save()  # through save(): the cached credential is dropped after commit, as from admin
    assert as_attacker(client, LOCK, body).json()["code"] == "0000"


# --- messages carry their channel ----------------------------------------------------------------


def test_every_callback_and_bus_message_names_its_channel(victim):
    from apps.trade.services import order_refund

    team_id = lock_team(victim, ("demo1", "demo2"))
    order_refund(source="s01", channel="c01", out_trade_no="OTN-demo2")
    tasks = NotifyTask.objects.filter(team_id=team_id)
    assert tasks.exists()
    assert all((t.parameter_json["source"], t.parameter_json["channel"]) == ("s01", "c01") for t in tasks)


def test_a_bus_message_of_another_channel_recovers_no_seat(victim):
    from apps.trade.consumers import recover_team_seat
    from apps.trade.services import order_refund
    from apps.trade.tests.helpers import team_stock_read

    team_id = lock_team(victim, ("demo1", "demo2"))
    order_refund(source="s01", channel="c01", out_trade_no="OTN-demo2")
    message = NotifyTask.objects.filter(team_id=team_id, notify_type="MQ").get().parameter_json
    before = team_stock_read(team_id=team_id).joiners()
    recover_team_seat({**message, "source": "s03", "channel": "c03"})  # forged: not s03's order
    assert team_stock_read(team_id=team_id).joiners() == before
    recover_team_seat(message)
    assert team_stock_read(team_id=team_id).joiners() == before - 1
