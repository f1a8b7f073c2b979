"""POST /api/v1/gbm/channel/ping: a signed call that only checks the signing."""

import json
import time

import pytest

from apps.channels.signing import signed_headers
from apps.channels.tests.factories import ChannelCredentialFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/gbm/channel/ping"
SECRET = "ping-secret"


@pytest.fixture
def channel():
    return ChannelCredentialFactory(source="s07", channel="c07", secret=SECRET)


def ping(client, *, secret=SECRET, headers=None, body=None):
    raw = json.dumps(body or {"source": "s07", "channel": "c07"}).encode()
    headers = headers or signed_headers(secret, "POST", URL, raw)
    return client.post(URL, data=raw, content_type="application/json", headers=headers)


def test_a_signed_ping_answers_who_called_and_the_server_clock(client, channel):
    response = ping(client)
    body = response.json()
    assert response.status_code == 200 and body["code"] == "0000", body
    assert (body["data"]["source"], body["data"]["channel"]) == ("s07", "c07")
    assert abs(body["data"]["serverTime"] - time.time()) < 5


def test_signing_mistakes_get_their_codes(client, channel):
    raw = json.dumps({"source": "s07", "channel": "c07"}).encode()
    replayed = signed_headers(SECRET, "POST", URL, raw)
    assert ping(client, headers=replayed).json()["code"] == "0000"
    assert ping(client, headers=replayed).json()["code"] == "E0202"  # the nonce again
    assert ping(client, secret="wrong").json()["code"] == "E0201"
    assert ping(client, body={"source": "s07", "channel": "nope"}).json()["code"] == "E0203"
    assert ping(client, body={"source": "s07"}).json()["code"] == "0002"


def test_the_ping_is_documented(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert "channel_ping" in json.dumps(schema["paths"][URL])


def test_the_success_message_is_in_the_callers_language_answer_after_answer(client, channel):
    """The envelope's ``info`` is translated once per language and kept: each answer still speaks its caller's."""
    raw = json.dumps({"source": "s07", "channel": "c07"}).encode()
    infos = []
    for language in ("zh-hans", "en", "zh-hans", "en"):
        headers = {**signed_headers(SECRET, "POST", URL, raw), "Accept-Language": language}
        infos.append(ping(client, headers=headers).json()["info"])
    assert infos == ["成功", "success", "成功", "success"]
