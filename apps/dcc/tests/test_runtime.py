"""The process-local DCC copy: loading, fallbacks, pub/sub, re-sync (embedded or real Redis)."""

import json
import time
from collections.abc import Callable
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import OperationalError
from django.test import override_settings
from rest_framework.authtoken.models import Token

from apps.accounts.tests.factories import StaffFactory
from apps.common.redis import get_redis
from apps.dcc import runtime, services
from apps.dcc.keys import DCC_KEYS
from apps.dcc.models import DccValue
from apps.dcc.runtime import DCC_HASH_KEY, dcc_get, dcc_publish_all, dcc_reset_local_state, dcc_subscribed
from apps.dcc.services import dcc_update

pytestmark = pytest.mark.django_db

UPDATE_URL = "/api/v1/gbm/dcc/update_config"


def eventually(check: Callable[[], bool], timeout: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def publish(payload) -> None:
    """What another process' dcc_update sends (or garbage, when payload is a str)."""
    body = payload if isinstance(payload, str) else json.dumps(payload)
    get_redis().publish(settings.DCC_PUBSUB_CHANNEL, body)


@pytest.fixture
def listening():
    """This process' subscriber is up and its post-subscribe reload is done: the copy is now stable."""
    assert dcc_subscribed(timeout=5), "the DCC subscriber did not subscribe within 5 s"
    dcc_get("cutRange")


def test_defaults_are_typed():
    assert dcc_get("cutRange") == 100
    assert dcc_get("downgradeSwitch") == "0"
    assert dcc_get("rateLimiterSwitch") == "open"
    assert dcc_get("scBlacklist") == frozenset({"s02c02"})
    with pytest.raises(KeyError):
        dcc_get("noSuchKey")


def test_update_through_the_staff_api_is_seen_by_dcc_get_at_once(client, django_capture_on_commit_callbacks):
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=StaffFactory()).key}"
    assert dcc_get("cutRange") == 100
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(UPDATE_URL, {"key": "cutRange", "value": "40"})
    assert response.json()["code"] == "0000"
    assert response.json()["data"] is True
    assert dcc_get("cutRange") == 40
    assert get_redis().hget(DCC_HASH_KEY, "cutRange") == b"40"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{UPDATE_URL}?key=scBlacklist&value=s03c01,s02c02")
    assert response.json()["code"] == "0000"
    assert dcc_get("scBlacklist") == frozenset({"s02c02", "s03c01"})


def test_a_refused_value_changes_nothing(client, django_capture_on_commit_callbacks):
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=StaffFactory()).key}"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.get(UPDATE_URL, {"key": "cutRange", "value": "500"})
    assert response.status_code == 400
    assert response.json()["code"] == "0002"
    assert callbacks == []
    assert dcc_get("cutRange") == 100


def test_nothing_is_published_before_the_commit(django_capture_on_commit_callbacks):
    dcc_get("cutRange")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        dcc_update(key="cutRange", value="40", changed_by=None, via="api")
    assert len(callbacks) == 1
    assert dcc_get("cutRange") == 100
    assert get_redis().hget(DCC_HASH_KEY, "cutRange") == b"100"  # filled by the first load, not updated


def test_hot_path_reads_touch_neither_the_database_nor_redis_again(django_assert_num_queries, monkeypatch):
    with django_assert_num_queries(1):  # first load: the hash is empty, so the database, once
        assert dcc_get("cutRange") == 100
    assert get_redis().hlen(DCC_HASH_KEY) == len(DCC_KEYS)  # and the hash was filled from it
    monkeypatch.setattr(runtime, "get_redis", lambda: pytest.fail("a fresh read must not call Redis"))
    with django_assert_num_queries(0):
        for _ in range(1000):
            dcc_get("cutRange")
    monkeypatch.undo()
    with override_settings(DCC_RESYNC_SECONDS=0), django_assert_num_queries(0):
        assert dcc_get("cutRange") == 100  # a re-sync reads the (now complete) hash only


def test_redis_down_reads_the_database(monkeypatch, down_redis, listening, caplog):
    DccValue.objects.create(key="cutRange", value="30")
    dcc_reset_local_state()
    monkeypatch.setattr(runtime, "get_redis", lambda: down_redis)
    assert dcc_get("cutRange") == 30
    assert dcc_get("lockTimeoutMinutes") == 15
    assert "Redis unreachable" in caplog.text


def test_keys_missing_in_redis_come_from_the_database_and_are_mirrored():
    get_redis().hset(DCC_HASH_KEY, "cutRange", "70")
    DccValue.objects.create(key="lockTimeoutMinutes", value="30")
    assert dcc_get("cutRange") == 70
    assert dcc_get("lockTimeoutMinutes") == 30
    assert get_redis().hget(DCC_HASH_KEY, "lockTimeoutMinutes") == b"30"


def test_database_down_reads_redis(monkeypatch, django_assert_num_queries):
    DccValue.objects.create(key="cutRange", value="55")
    dcc_publish_all()
    dcc_reset_local_state()

    def database_down():
        raise OperationalError("(2003) Can't connect to MySQL server")

    monkeypatch.setattr(runtime, "dcc_stored_values", database_down)
    with django_assert_num_queries(0):
        assert dcc_get("cutRange") == 55


def test_with_redis_and_database_down_the_last_known_values_stay(monkeypatch, down_redis, listening, caplog):
    DccValue.objects.create(key="cutRange", value="20")
    dcc_publish_all()
    dcc_reset_local_state()
    assert dcc_get("cutRange") == 20

    def database_down():
        raise OperationalError("(2003) Can't connect to MySQL server")

    monkeypatch.setattr(runtime, "get_redis", lambda: down_redis)
    monkeypatch.setattr(runtime, "dcc_stored_values", database_down)
    with override_settings(DCC_RESYNC_SECONDS=0):
        assert dcc_get("cutRange") == 20  # a failed re-sync keeps what we had
        assert "keeping the last known values" in caplog.text
        dcc_reset_local_state()
        assert dcc_get("cutRange") == 100  # nothing known at all: the default, and no exception
        monkeypatch.undo()
        assert dcc_get("cutRange") == 20  # recovered at the next attempt


def test_resync_picks_up_a_change_whose_message_was_missed(listening):
    assert dcc_get("cutRange") == 100
    # Another process committed and mirrored a change, but its PUBLISH never reached us.
    DccValue.objects.create(key="cutRange", value="60")
    get_redis().hset(DCC_HASH_KEY, "cutRange", "60")
    assert dcc_get("cutRange") == 100  # within DCC_RESYNC_SECONDS the local copy stands
    with override_settings(DCC_RESYNC_SECONDS=0):
        assert dcc_get("cutRange") == 60


def test_a_published_change_is_applied_without_waiting_for_the_resync(listening):
    assert dcc_get("downgradeSwitch") == "0"
    publish({"key": "downgradeSwitch", "value": "1"})
    assert eventually(lambda: dcc_get("downgradeSwitch") == "1", timeout=1.0)


def test_malformed_messages_are_ignored(listening, caplog):
    publish("not json")
    publish({"key": "noSuchKey", "value": "1"})
    publish({"key": "cutRange", "value": "500"})
    publish({"value": "1"})
    publish({"key": "cutRange", "value": "5"})  # messages arrive in order: once 5 shows, the rest were seen
    assert eventually(lambda: dcc_get("cutRange") == 5, timeout=1.0)
    assert caplog.text.count("DCC: ignoring") == 4


@pytest.mark.django_db(transaction=True)
def test_a_redis_failure_at_publish_does_not_fail_the_update(monkeypatch, down_redis, listening, caplog):
    monkeypatch.setattr(services, "get_redis", lambda: down_redis)
    dcc_update(key="cutRange", value="25", changed_by=None, via="api")
    assert DccValue.objects.get(key="cutRange").value == "25"
    assert dcc_get("cutRange") == 25  # this process applied it without Redis
    assert get_redis().hget(DCC_HASH_KEY, "cutRange") == b"100"  # the mirror is stale
    assert "could not be published" in caplog.text

    monkeypatch.undo()  # Redis answers again: the updater re-mirrors the database into it
    assert eventually(lambda: get_redis().hget(DCC_HASH_KEY, "cutRange") == b"25", timeout=5.0)
    assert get_redis().hlen(DCC_HASH_KEY) == len(DCC_KEYS)


def test_dcc_sync_mirrors_every_key_and_broadcasts():
    DccValue.objects.create(key="cutRange", value="10")
    out = StringIO()
    call_command("dcc_sync", stdout=out)
    stored = {key.decode(): value.decode() for key, value in get_redis().hgetall(DCC_HASH_KEY).items()}
    assert stored == {name: key.default for name, key in DCC_KEYS.items()} | {"cutRange": "10"}
    assert f"{len(DCC_KEYS)} values" in out.getvalue()
    assert dcc_get("cutRange") == 10


def test_rebuild_redis_restores_the_mirror():
    DccValue.objects.create(key="downgradeSwitch", value="1")
    call_command("rebuild_redis", stdout=StringIO())
    assert get_redis().hget(DCC_HASH_KEY, "downgradeSwitch") == b"1"
