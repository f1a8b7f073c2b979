"""The signed trial records its nonce and takes the user's permit in one Redis script (``apps.dcc.ratelimit``).

The nonce goes first: a replay is refused with E0202 and spends no permit. A Redis Cluster (their keys' slots
differ), a process still copying nonces from the database after a Redis outage, and an outage itself keep the
nonce store's own path, with the same answers.
"""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.activities.tests.factories import Offer
from apps.channels import nonces
from apps.channels.models import SignatureNonce
from apps.channels.signing import NONCE_HEADER, signed_headers
from apps.common.redis import get_redis
from apps.dcc import ratelimit

pytestmark = pytest.mark.django_db

URL = "/api/v1/gbm/index/query_group_buy_market_config"
START_MS = 1_750_000_000_000


@pytest.fixture
def frozen_clock(monkeypatch):
    monkeypatch.setattr(ratelimit, "now_ms", lambda: START_MS)  # every permit within one instant


@pytest.fixture
def two_permits(set_dcc):
    set_dcc("rateLimitPermitsPerSecond", "2")
    set_dcc("rateLimitBlacklistCount", "0")


def trial(client, offer: Offer, *, user_id: str = "shopper-1", headers: dict | None = None):
    raw = json.dumps(
        {"userId": user_id, "source": offer.source, "channel": offer.channel, "goodsId": offer.goods_id}
    ).encode()
    headers = headers or signed_headers(offer.secret, "POST", URL, raw)
    return client.post(URL, data=raw, content_type="application/json", headers=headers), headers


def codes(*responses) -> list[str]:
    return [response.json()["code"] for response in responses]


def test_a_replayed_trial_is_refused_before_it_spends_a_permit(client, offer, frozen_clock, two_permits):
    first, headers = trial(client, offer)
    replays = [trial(client, offer, headers=headers)[0] for _ in range(3)]
    second, _ = trial(client, offer)  # the user's second permit is still there: no replay spent it
    third, _ = trial(client, offer)

    assert codes(first, *replays, second, third) == ["0000", "E0202", "E0202", "E0202", "0000", "0006"]


def test_the_nonce_and_the_permit_are_one_redis_call(client, offer, redis_commands):
    trial(client, offer)  # the credential and the activity cached: the next trial reads neither

    redis_commands.clear()
    response, _ = trial(client, offer, user_id="shopper-2")

    assert response.json()["code"] == "0000"
    assert redis_commands["SET"] == 0  # no separate SET NX for the nonce
    assert redis_commands["EVALSHA"] + redis_commands["EVAL"] == 1, redis_commands


def test_on_a_cluster_the_nonce_and_the_permit_are_two_calls_with_the_same_answers(
    client, offer, monkeypatch, frozen_clock, two_permits, redis_commands
):
    monkeypatch.setattr(ratelimit, "redis_is_cluster", lambda: True)
    trial(client, offer, user_id="warm-up")

    redis_commands.clear()
    first, headers = trial(client, offer)
    calls = redis_commands.copy()
    replay, _ = trial(client, offer, headers=headers)
    second, _ = trial(client, offer)
    third, _ = trial(client, offer)

    assert codes(first, replay, second, third) == ["0000", "E0202", "0000", "0006"]
    assert (calls["SET"], calls["EVALSHA"] + calls["EVAL"]) == (1, 1), calls


def test_while_nonces_wait_to_be_copied_from_the_database_a_replay_recorded_there_is_refused(
    client, offer, monkeypatch
):
    """A nonce recorded in the database during a Redis outage, before this process copied it into Redis: the
    script alone would call it fresh, so the nonce store looks it up (``nonce_record``) and refuses the replay."""
    response, headers = trial(client, offer)
    assert response.json()["code"] == "0000"
    nonce = headers[NONCE_HEADER]
    # As after an outage: the database has the nonce, this Redis has lost it, the copy has not run yet.
    get_redis().delete(nonces.nonce_key(source=offer.source, channel=offer.channel, nonce=nonce))
    SignatureNonce.objects.create(
        source=offer.source, channel=offer.channel, nonce=nonce, expires_at=timezone.now() + timedelta(seconds=60)
    )
    monkeypatch.setattr(nonces, "_fallback_generation", nonces._copied_generation + 1)

    replay, _ = trial(client, offer, headers=headers)

    assert replay.json()["code"] == "E0202"


def test_redis_down_the_trial_answers_its_nonce_kept_in_the_database_and_a_replay_is_refused(client, offer, settings):
    trial(client, offer, user_id="warm-up")  # the credential and the offer in process memory
    settings.CACHES = {  # every Redis client now connects to a closed port
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }

    first, headers = trial(client, offer)
    replay, _ = trial(client, offer, headers=headers)

    assert codes(first, replay) == ["0000", "E0202"], (first.json(), replay.json())
    assert SignatureNonce.objects.filter(source=offer.source, channel=offer.channel).count() == 1
