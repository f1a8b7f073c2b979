"""Signed requests while Redis is unreachable: the database records the nonces (``apps.channels.nonces``)."""

import json
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, connections
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY

from apps.accounts.tests.factories import StaffFactory
from apps.channels import nonces
from apps.channels.models import SignatureNonce
from apps.channels.nonces import nonce_key, nonce_ttl_seconds, nonces_purge_expired
from apps.channels.signing import signed_headers
from apps.channels.tasks import purge_expired_nonces
from apps.channels.tests.factories import ChannelCredentialFactory
from apps.channels.tests.helpers import CHANNEL_SECRET, UnreachableRedis, assert_refused, body_of
from apps.channels.tests.urls_signed import SIGNED_PATH
from apps.common.redis import get_redis

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("signed_urls")]


@contextmanager
def redis_unreachable() -> Iterator[None]:
    """The nonce store's Redis fails to connect; the credential cache keeps working."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(nonces, "get_redis", UnreachableRedis)
        yield


def nonce_table_down(execute, sql, params, many, context):
    """``connection.execute_wrapper``: every statement on ``signature_nonce`` loses its connection."""
    if "signature_nonce" in sql:
        raise OperationalError(2013, "Lost connection to server during query")
    return execute(sql, params, many, context)


def signed(nonce: str, body: bytes | None = None) -> dict[str, str]:
    return signed_headers(CHANNEL_SECRET, "POST", SIGNED_PATH, body or body_of(), nonce=nonce)


def send(client, headers: dict[str, str], body: bytes | None = None):
    return client.post(SIGNED_PATH, data=body or body_of(), content_type="application/json", headers=headers)


def fallbacks() -> dict[str, float]:
    return {
        result: REGISTRY.get_sample_value("gbm_nonce_store_fallback_total", {"result": result}) or 0.0
        for result in ("recorded", "replayed", "failed")
    }


def nonce_row(source: str, channel: str, nonce: str, *, expires_in: float) -> SignatureNonce:
    return SignatureNonce.objects.create(
        source=source, channel=channel, nonce=nonce, expires_at=timezone.now() + timedelta(seconds=expires_in)
    )


# --- Redis down: the database records the nonce ---------------------------------------------------------


def test_redis_down_the_nonce_goes_to_the_database_and_a_replay_is_refused(client, credential, caplog):
    headers = signed("n-down")
    before = fallbacks()
    with redis_unreachable(), caplog.at_level(logging.WARNING, logger="apps.channels.nonces"):
        first = send(client, headers)
        again = send(client, headers)
        other = send(client, signed("n-down-2"))

    assert first.status_code == 200, first.json()
    assert "already used" in assert_refused(again, "E0202")["info"]
    assert other.status_code == 200
    row = SignatureNonce.objects.get(nonce="n-down")
    assert (row.source, row.channel) == ("s01", "c01")
    ttl = timedelta(seconds=nonce_ttl_seconds())
    assert timezone.now() + ttl - timedelta(seconds=5) < row.expires_at <= timezone.now() + ttl
    after = fallbacks()
    assert (after["recorded"] - before["recorded"], after["replayed"] - before["replayed"]) == (2, 1)
    assert caplog.text.count("recording nonces in the database") == 1  # one line, not one per request


def test_redis_down_nonces_are_scoped_by_channel_and_compared_exactly(client, credential):
    other = body_of("s02", "c02")
    ChannelCredentialFactory(source="s02", channel="c02", secret="another-secret-abcdef")
    with redis_unreachable():
        assert send(client, signed("Shared-Nonce")).status_code == 200
        assert send(client, signed("shared-nonce")).status_code == 200  # differs in case only: another nonce
        headers = signed_headers("another-secret-abcdef", "POST", SIGNED_PATH, other, nonce="Shared-Nonce")
        assert send(client, headers, other).status_code == 200
    assert SignatureNonce.objects.count() == 3


def test_redis_down_an_expired_row_does_not_block_its_nonce(client, credential):
    nonce_row("s01", "c01", "n-old", expires_in=-1)  # past its TTL, not purged yet
    with redis_unreachable():
        assert send(client, signed("n-old")).status_code == 200
        assert_refused(send(client, signed("n-old")), "E0202")
    row = SignatureNonce.objects.get(nonce="n-old")
    assert row.expires_at > timezone.now() + timedelta(seconds=nonce_ttl_seconds() - 5)  # taken over, renewed


def test_redis_down_an_unexpired_row_of_another_process_blocks_its_nonce(client, credential):
    nonce_row("s01", "c01", "n-elsewhere", expires_in=60)
    with redis_unreachable():
        assert "already used" in assert_refused(send(client, signed("n-elsewhere")), "E0202")["info"]


def test_redis_and_database_down_refuse_with_unavailable_and_a_retry_succeeds(client, credential, caplog):
    headers = signed("n-both")
    before = fallbacks()
    with (
        redis_unreachable(),
        connection.execute_wrapper(nonce_table_down),
        caplog.at_level(logging.WARNING, logger="apps.channels.nonces"),
    ):
        response = send(client, headers)
    assert "Replay protection is unavailable" in assert_refused(response, "E0202")["info"]
    assert "Redis and the database both failed" in caplog.text
    assert fallbacks()["failed"] - before["failed"] == 1
    assert not SignatureNonce.objects.exists()

    assert send(client, headers).status_code == 200  # never recorded: the retry goes through


# --- Redis back: what the database recorded stays used ---------------------------------------------------


def test_redis_back_a_replay_of_an_outage_nonce_is_refused(client, credential):
    outage, outage_2 = signed("n-outage"), signed("n-outage-2")
    with redis_unreachable():
        assert send(client, outage).status_code == 200
        assert send(client, outage_2).status_code == 200

    # The first check with Redis back looks its nonce up in the database, then copies the rows into Redis.
    assert "already used" in assert_refused(send(client, outage), "E0202")["info"]
    redis = get_redis()
    for nonce in ("n-outage", "n-outage-2"):
        assert 0 < redis.ttl(nonce_key(source="s01", channel="c01", nonce=nonce)) <= nonce_ttl_seconds()

    # Redis alone refuses now, even once the rows are gone.
    SignatureNonce.objects.all().delete()
    assert_refused(send(client, outage_2), "E0202")
    assert send(client, signed("n-after")).status_code == 200


def test_redis_back_the_copy_happens_once_then_the_hot_path_costs_no_query(
    client, credential, django_assert_num_queries
):
    outage = signed("n-outage")
    with redis_unreachable():
        assert send(client, outage).status_code == 200
    assert send(client, signed("n-first-back")).status_code == 200  # a new nonce: accepted, copy done
    with django_assert_num_queries(0):
        assert_refused(send(client, outage), "E0202")  # refused by Redis
        assert send(client, signed("n-next")).status_code == 200


def test_redis_back_but_the_database_fails_refuses_without_burning_the_nonce(client, credential):
    with redis_unreachable():
        assert send(client, signed("n-outage")).status_code == 200
    headers = signed("n-while-db-down")
    with connection.execute_wrapper(nonce_table_down):
        response = send(client, headers)
    assert "Replay protection is unavailable" in assert_refused(response, "E0202")["info"]
    assert not get_redis().exists(nonce_key(source="s01", channel="c01", nonce="n-while-db-down"))
    assert send(client, headers).status_code == 200


# --- the purge job ----------------------------------------------------------------------------------------


def test_the_purge_job_deletes_only_expired_rows_and_copies_the_rest_into_redis():
    nonce_row("s01", "c01", "n-expired", expires_in=-1)
    nonce_row("s01", "c01", "n-long-expired", expires_in=-3600)
    nonce_row("s01", "c01", "n-live", expires_in=120)

    assert purge_expired_nonces() == 2

    assert list(SignatureNonce.objects.values_list("nonce", flat=True)) == ["n-live"]
    redis = get_redis()
    assert 110 < redis.ttl(nonce_key(source="s01", channel="c01", nonce="n-live")) <= 120
    assert not redis.exists(nonce_key(source="s01", channel="c01", nonce="n-expired"))
    assert purge_expired_nonces() == 0  # idempotent


def test_the_purge_deletes_in_batches(django_assert_num_queries):
    for index in range(3):
        nonce_row("s01", "c01", f"n-{index}", expires_in=-index - 1)
    nonce_row("s01", "c01", "n-live", expires_in=60)
    with django_assert_num_queries(5):  # (select 2 ids, delete them) × 2, then an empty select
        assert nonces_purge_expired(batch_size=2) == 3
    assert SignatureNonce.objects.count() == 1


def test_the_purge_job_still_purges_while_redis_is_down(caplog):
    nonce_row("s01", "c01", "n-expired", expires_in=-1)
    nonce_row("s01", "c01", "n-live", expires_in=60)
    with redis_unreachable(), caplog.at_level(logging.WARNING, logger="apps.channels.tasks"):
        assert purge_expired_nonces() == 1
    assert "stay in the database only" in caplog.text


def test_admin_lists_and_searches_the_rows_read_only(client):
    nonce_row("s01", "c01", "n-listed", expires_in=60)
    nonce_row("s02", "c02", "n-other", expires_in=60)
    client.force_login(StaffFactory())
    changelist = "/admin/channels/signaturenonce/"
    found = client.get(changelist, {"q": "n-listed"})
    assert found.status_code == 200
    assert b"n-listed" in found.content and b"n-other" not in found.content
    assert b"n-other" in client.get(changelist, {"channel": "c02"}).content
    assert client.get(f"{changelist}add/").status_code == 403


# --- one nonce, many requests at once (real MariaDB) -------------------------------------------------------


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("expired_row", [False, True], ids=["new", "expired-row"])
def test_ten_simultaneous_requests_with_one_nonce_redis_down_exactly_one_is_accepted(mariadb, credential, expired_row):
    if expired_row:  # all ten collide on the unique key, then race to take the expired row over
        nonce_row("s01", "c01", "n-race", expires_in=-1)
    headers = signed("n-race")
    barrier = threading.Barrier(10)

    def attempt(_: int) -> tuple[str, str]:
        barrier.wait()
        try:
            payload = send(Client(headers={"accept-language": "en"}), headers).json()
            return payload["code"], payload["info"]
        finally:
            connections.close_all()

    with redis_unreachable(), ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(attempt, range(10)))

    assert sorted(outcomes) == [("0000", "success")] + [("E0202", "The nonce was already used.")] * 9
    row = SignatureNonce.objects.get(nonce="n-race")
    assert row.expires_at > timezone.now()


# --- end to end: the domain answers with its own codes --------------------------------------------------


def test_redis_down_a_signed_join_answers_0007_and_a_signed_trial_answers(client, settings, offer):
    lock_url, trial_url = "/api/v1/gbm/trade/lock_market_pay_order", "/api/v1/gbm/index/query_group_buy_market_config"

    def post(url: str, body: dict):
        raw = json.dumps({**offer.in_channel, **body}).encode()
        headers = signed_headers(offer.secret, "POST", url, raw)
        return client.post(url, data=raw, content_type="application/json", headers=headers)

    lock = {"activityId": offer.activity_id, "goodsId": offer.goods_id, "notifyConfigVO": {"notifyType": "MQ"}}
    opened = post(lock_url, {**lock, "userId": "demo1", "outTradeNo": "E2E-1"}).json()
    assert opened["code"] == "0000", opened
    settings.CACHES = {  # every Redis client, the nonce store's included, now connects to a closed port
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }

    join = post(lock_url, {**lock, "userId": "demo2", "outTradeNo": "E2E-2", "teamId": opened["data"]["teamId"]})
    assert (join.status_code, join.json()["code"]) == (503, "0007"), join.json()
    trial = post(trial_url, {"userId": "xiaofuge", "goodsId": offer.goods_id})
    assert (trial.status_code, trial.json()["code"]) == (200, "0000"), trial.json()
    assert SignatureNonce.objects.count() == 2
