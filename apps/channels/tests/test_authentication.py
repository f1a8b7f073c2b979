"""Signed channel requests through HTTP: a test-only endpoint behind ChannelSignatureAuthentication."""

import json
import logging
import time

import pytest
from django.core.cache import cache
from drf_spectacular.generators import SchemaGenerator

from apps.channels.authentication import ChannelPrincipal
from apps.channels.models import ChannelCredential
from apps.channels.nonces import nonce_key
from apps.channels.selectors import channel_credential_cache_key, channel_credential_get
from apps.channels.signing import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers
from apps.channels.tests.factories import ChannelCredentialFactory
from apps.channels.tests.helpers import CHANNEL_SECRET as SECRET
from apps.channels.tests.helpers import UnreachableRedis, assert_refused, body_of, post_signed
from apps.channels.tests.urls_signed import SIGNED_PATH
from apps.common import cache as common_cache
from apps.common.redis import get_redis

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("signed_urls")]


def get_signed(client, params="source=s01&channel=c01", *, secret=SECRET, sign_path=SIGNED_PATH, **header_args):
    headers = signed_headers(secret, "GET", sign_path, b"", **header_args)
    return client.get(f"{SIGNED_PATH}?{params}", headers=headers)


# --- accepted ------------------------------------------------------------------------------------


def test_signed_post_is_accepted_and_the_principal_is_the_channel(client, credential):
    response = post_signed(client)
    assert response.status_code == 200
    assert response.json() == {
        "code": "0000",
        "info": "success",
        "data": {"source": "s01", "channel": "c01", "userId": "xiaofuge"},
    }


def test_signed_get_takes_source_and_channel_from_the_query_string(client, credential):
    response = get_signed(client)
    assert response.status_code == 200
    assert response.json()["data"] == {"source": "s01", "channel": "c01"}


def test_timestamp_within_the_skew_is_accepted(client, credential):
    assert post_signed(client, timestamp=int(time.time()) - 290).status_code == 200
    assert post_signed(client, timestamp=int(time.time()) + 290).status_code == 200


def test_nonce_of_64_visible_characters_is_accepted(client, credential):
    assert post_signed(client, nonce="~" + "x" * 62 + "!").status_code == 200


def test_unsigned_request_is_accepted_when_the_channel_does_not_require_signatures(client):
    ChannelCredentialFactory(source="s09", channel="c09", signature_required=False)
    response = client.post(SIGNED_PATH, data=body_of("s09", "c09"), content_type="application/json")
    assert response.status_code == 200
    assert response.json()["data"] == {"source": "s09", "channel": "c09", "userId": "xiaofuge"}
    assert client.get(f"{SIGNED_PATH}?source=s09&channel=c09").status_code == 200


# --- E0201: signature missing or invalid -------------------------------------------------------------


def test_tampered_body_is_refused(client, credential):
    response = post_signed(client, body_of(goodsId="9890001"), sign_body=body_of(goodsId="9890002"))
    assert_refused(response, "E0201")


def test_wrong_secret_is_refused(client, credential):
    assert_refused(post_signed(client, secret="not-the-secret"), "E0201")


def test_signature_for_another_path_is_refused(client, credential):
    assert_refused(post_signed(client, sign_path="/api/v1/gbm/trade/refund_market_pay_order"), "E0201")


def test_signing_the_query_string_into_the_path_is_refused(client, credential):
    assert_refused(get_signed(client, sign_path=f"{SIGNED_PATH}?source=s01&channel=c01"), "E0201")


def test_get_signed_for_another_channel_is_refused(client, credential):
    ChannelCredentialFactory(source="s02", channel="c02", secret="another-secret-abcdef")
    assert_refused(get_signed(client, "source=s02&channel=c02"), "E0201")


@pytest.mark.parametrize("dropped", [TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER])
def test_a_missing_header_is_refused(client, credential, dropped):
    headers = signed_headers(SECRET, "POST", SIGNED_PATH, body_of())
    del headers[dropped]
    response = client.post(SIGNED_PATH, data=body_of(), content_type="application/json", headers=headers)
    assert dropped in assert_refused(response, "E0201")["info"]


def test_an_unsigned_request_is_refused(client, credential):
    assert_refused(client.post(SIGNED_PATH, data=body_of(), content_type="application/json"), "E0201")
    assert_refused(client.get(f"{SIGNED_PATH}?source=s01&channel=c01"), "E0201")


@pytest.mark.parametrize("nonce", ["x" * 65, "has space", "tab\there", "拼团"], ids=["65", "space", "tab", "non-ascii"])
def test_a_malformed_nonce_is_refused(client, credential, nonce):
    headers = signed_headers(SECRET, "POST", SIGNED_PATH, body_of(), nonce=nonce)
    if not nonce.isascii():  # a WSGI header is latin-1: send what a UTF-8 client would put on the wire
        headers[NONCE_HEADER] = nonce.encode().decode("latin-1")
    response = client.post(SIGNED_PATH, data=body_of(), content_type="application/json", headers=headers)
    assert_refused(response, "E0201")


# --- E0202: timestamp window and replays -------------------------------------------------------------


@pytest.mark.parametrize("offset", [-301, 301, -86400], ids=["stale", "future", "yesterday"])
def test_a_timestamp_outside_the_skew_is_refused(client, credential, offset):
    assert_refused(post_signed(client, timestamp=int(time.time()) + offset), "E0202")


@pytest.mark.parametrize("timestamp", ["abc", "1.7e9", "-1", " 1700000000", "1700000000.5", "１７００"])
def test_a_timestamp_that_is_not_unix_seconds_is_refused(client, credential, timestamp):
    headers = signed_headers(SECRET, "POST", SIGNED_PATH, body_of(), timestamp=timestamp)
    if not timestamp.isascii():
        headers[TIMESTAMP_HEADER] = timestamp.encode().decode("latin-1")
    response = client.post(SIGNED_PATH, data=body_of(), content_type="application/json", headers=headers)
    assert_refused(response, "E0202")


def test_a_replayed_request_is_refused(client, credential):
    headers = signed_headers(SECRET, "POST", SIGNED_PATH, body_of())
    first = client.post(SIGNED_PATH, data=body_of(), content_type="application/json", headers=headers)
    again = client.post(SIGNED_PATH, data=body_of(), content_type="application/json", headers=headers)
    assert first.status_code == 200
    assert_refused(again, "E0202")


def test_the_nonce_is_remembered_per_channel_for_at_least_twice_the_skew(client, credential, settings):
    settings.SIGNATURE_NONCE_TTL = settings.SIGNATURE_CLOCK_SKEW  # too short: 2 × skew wins
    assert post_signed(client, nonce="shared-nonce").status_code == 200
    ttl = get_redis().ttl(nonce_key(source="s01", channel="c01", nonce="shared-nonce"))
    assert (
        2 * settings.SIGNATURE_CLOCK_SKEW.total_seconds() - 5
        <= ttl
        <= 2 * settings.SIGNATURE_CLOCK_SKEW.total_seconds()
    )

    other = ChannelCredentialFactory(source="s02", channel="c02", secret="another-secret-abcdef")
    response = post_signed(client, body_of("s02", "c02"), secret=other.secret, nonce="shared-nonce")
    assert response.status_code == 200


def test_a_forged_request_does_not_burn_the_nonce(client, credential):
    assert_refused(post_signed(client, secret="forger", nonce="n-1"), "E0201")
    assert_refused(post_signed(client, timestamp=int(time.time()) - 3600, nonce="n-1"), "E0202")
    assert post_signed(client, nonce="n-1").status_code == 200


# --- E0203 and malformed input -------------------------------------------------------------------


def test_an_unknown_channel_is_refused(client, credential):
    assert_refused(post_signed(client, body_of("s01", "c99")), "E0203")
    assert_refused(get_signed(client, "source=nope&channel=c01"), "E0203")
    assert_refused(get_signed(client, "source=" + "s" * 200 + "&channel=c01"), "E0203")


def test_source_and_channel_match_exactly(client, credential):
    assert_refused(post_signed(client, body_of("S01", "c01")), "E0203")
    assert_refused(post_signed(client, body_of("s01 ", "c01")), "E0203")


def test_a_disabled_channel_is_refused_even_when_correctly_signed(client):
    ChannelCredentialFactory(source="s01", channel="c01", secret=SECRET, enabled=False)
    assert_refused(post_signed(client), "E0203")


def test_a_disabled_unsigned_channel_is_refused(client):
    ChannelCredentialFactory(source="s09", channel="c09", signature_required=False, enabled=False)
    assert_refused(client.post(SIGNED_PATH, data=body_of("s09", "c09"), content_type="application/json"), "E0203")


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'"s01"', b"[" * 100_000],
    ids=["bad", "bytes", "list", "str", "deep"],
)
def test_a_body_that_is_not_a_json_object_is_an_illegal_parameter(client, credential, body):
    assert_refused(post_signed(client, body), "0002", status=400)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"userId": "u"}, {"source", "channel"}),
        ({"source": "s01"}, {"channel"}),
        ({"source": "s01", "channel": "  "}, {"channel"}),
        ({"source": 1, "channel": "c01"}, {"source"}),
    ],
)
def test_missing_source_or_channel_is_an_illegal_parameter(client, credential, body, fields):
    payload = assert_refused(post_signed(client, json.dumps(body).encode()), "0002", status=400)
    assert set(payload["data"]) == fields


def test_a_get_without_source_is_an_illegal_parameter(client, credential):
    payload = assert_refused(get_signed(client, "channel=c01"), "0002", status=400)
    assert set(payload["data"]) == {"source"}


# --- the credential cache ------------------------------------------------------------------------


def test_a_warm_credential_costs_no_query(client, credential, django_assert_num_queries):
    assert post_signed(client).status_code == 200
    with django_assert_num_queries(0):
        assert post_signed(client).status_code == 200
        assert get_signed(client).status_code == 200


def test_the_cached_credential_is_a_loaded_row(credential, django_assert_num_queries):
    channel_credential_get(source="s01", channel="c01")
    with django_assert_num_queries(0):
        cached = channel_credential_get(source="s01", channel="c01")
    assert (cached.pk, cached.secret, cached.create_time) == (credential.pk, SECRET, credential.create_time)
    assert cached._state.adding is False


def test_an_unknown_channel_is_cached_as_missing(client, django_assert_num_queries):
    assert channel_credential_get(source="s07", channel="c07") is None
    with django_assert_num_queries(0):
        assert channel_credential_get(source="s07", channel="c07") is None
    assert 0 < cache.ttl(channel_credential_cache_key(source="s07", channel="c07")) <= 60


def test_a_new_credential_replaces_the_cached_miss(client, django_capture_on_commit_callbacks):
    assert_refused(post_signed(client), "E0203")
    with django_capture_on_commit_callbacks(execute=True):
        ChannelCredentialFactory(source="s01", channel="c01", secret=SECRET)
    assert post_signed(client).status_code == 200


def test_rotating_the_secret_stops_the_old_one_at_once(client, credential, django_capture_on_commit_callbacks):
    assert post_signed(client).status_code == 200  # cached now
    credential.secret = "rotated-secret-0123456789"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        credential.save()
    assert callbacks, "cache busting runs after commit"
    assert_refused(post_signed(client), "E0201")
    assert post_signed(client, secret="rotated-secret-0123456789").status_code == 200


def test_cache_is_busted_only_after_commit(client, credential, django_capture_on_commit_callbacks):
    assert post_signed(client).status_code == 200
    credential.enabled = False
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        credential.save()
    assert post_signed(client).status_code == 200  # not committed yet: the cache still holds the old row
    for callback in callbacks:
        callback()
    assert_refused(post_signed(client), "E0203")


def test_disabling_or_deleting_takes_effect_at_once(client, credential, django_capture_on_commit_callbacks):
    other = ChannelCredentialFactory(source="s02", channel="c02", secret="another-secret-abcdef")
    assert post_signed(client).status_code == 200
    assert post_signed(client, body_of("s02", "c02"), secret=other.secret).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        credential.enabled = False
        credential.save()
        ChannelCredential.objects.filter(pk=other.pk).delete()
    assert_refused(post_signed(client), "E0203")
    assert_refused(post_signed(client, body_of("s02", "c02"), secret=other.secret), "E0203")


def test_renaming_the_pair_forgets_the_old_name(client, credential, django_capture_on_commit_callbacks):
    assert post_signed(client).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        credential.channel = "c05"
        credential.save()
    assert_refused(post_signed(client), "E0203")
    assert post_signed(client, body_of("s01", "c05")).status_code == 200


# --- Redis unreachable -------------------------------------------------------------------------------


def test_cache_down_the_credential_comes_from_the_database(
    client, credential, monkeypatch, caplog, django_assert_num_queries
):
    monkeypatch.setattr(common_cache, "cache", UnreachableRedis())  # the one read-through cache's client
    with caplog.at_level(logging.WARNING, logger="apps.common.cache"), django_assert_num_queries(1):
        response = post_signed(client)
    assert response.status_code == 200
    assert "reading the database" in caplog.text


def test_cache_down_invalidation_does_not_fail_the_save(credential, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(common_cache, "cache", UnreachableRedis())
    with django_capture_on_commit_callbacks(execute=True):
        credential.secret = "rotated-secret-0123456789"
        credential.save()
    assert ChannelCredential.objects.get(pk=credential.pk).secret == "rotated-secret-0123456789"


def test_redis_unreachable_end_to_end_never_500(client, credential, settings):
    ChannelCredentialFactory(source="s09", channel="c09", signature_required=False)
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    headers = signed_headers(SECRET, "POST", SIGNED_PATH, body_of())
    first = client.post(SIGNED_PATH, data=body_of(), content_type="application/json", headers=headers)
    assert first.status_code == 200  # the nonce went to the database (test_nonce_fallback.py)
    again = client.post(SIGNED_PATH, data=body_of(), content_type="application/json", headers=headers)
    assert "already used" in assert_refused(again, "E0202")["info"]
    unsigned = client.post(SIGNED_PATH, data=body_of("s09", "c09"), content_type="application/json")
    assert unsigned.status_code == 200


# --- principal, permission, schema ---------------------------------------------------------------


def test_principal():
    principal = ChannelPrincipal(source="s01", channel="c01")
    assert principal.is_authenticated and not principal.is_anonymous
    assert (str(principal), principal.pk) == ("s01/c01", "s01:c01")


def test_schema_documents_the_three_headers():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    schemes = schema["components"]["securitySchemes"]
    assert {(scheme["type"], scheme["in"], scheme["name"]) for scheme in schemes.values()} >= {
        ("apiKey", "header", TIMESTAMP_HEADER),
        ("apiKey", "header", NONCE_HEADER),
        ("apiKey", "header", SIGNATURE_HEADER),
    }
    signed = [
        "/api/v1/gbm/channel/ping",
        "/api/v1/gbm/trade/lock_market_pay_order",
        "/api/v1/gbm/index/query_group_buy_market_config",
    ]
    for path in signed:
        operation = schema["paths"][path]["post"]
        assert operation["security"] == [{"gbmTimestamp": [], "gbmNonce": [], "gbmSignature": []}], path


def test_a_handler_that_defers_the_nonce_and_never_records_it_is_a_crash_not_an_answer(client, credential):
    from apps.channels.tests.urls_signed import FORGETFUL_PATH

    body = body_of()
    headers = signed_headers(SECRET, "POST", FORGETFUL_PATH, body)
    response = client.post(FORGETFUL_PATH, data=body, content_type="application/json", headers=headers)

    assert (response.status_code, response.json()["code"]) == (500, "0001")
    assert get_redis().keys(nonce_key(source="s01", channel="c01", nonce="*")) == []  # and nothing was recorded
