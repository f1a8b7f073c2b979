"""Redis Cluster (``REDIS_CLUSTER_NODES``): the settings it switches, the one-slot rule for scripts, the cache and
pub/sub on a real cluster (docs/decisions/019-redis-cluster.md).

The tests marked ``redis_cluster`` need ``REDIS_CLUSTER_NODES`` (``.ci/run`` starts one with .ci/redis-cluster.sh);
the others run on any Redis, the embedded one included.
"""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from redis.cluster import RedisCluster
from redis.exceptions import RedisError

from apps.common.redis import get_redis, redis_publish_all
from apps.common.redis_scripts import RATE_LIMIT, CrossSlotKeys, RedisScript, script_key_slots
from apps.dcc.ratelimit import rate_limit_check, rate_limit_keys
from apps.tags.bitmap import bitmap_replace, tag_bitmap_key

ROOT = Path(__file__).resolve().parents[3]

_ECHO_KEYS = RedisScript("echo_keys", "return #KEYS")


@pytest.fixture
def redis_cluster(real_redis):
    if not settings.REDIS_CLUSTER_NODES:
        pytest.skip("REDIS_CLUSTER_NODES is not set; this test needs a Redis Cluster (.ci/redis-cluster.sh)")
    assert isinstance(real_redis, RedisCluster)
    return real_redis


def _settings_shape(**environ: str) -> dict:
    """CACHES and the Redis flags as ``config.settings.local`` builds them from ``environ`` (a fresh interpreter)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DJANGO_", "TEST_REDIS"))}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.local", **environ})
    code = (
        "import json; from django.conf import settings; c = settings.CACHES['default']; "
        "print(json.dumps({'client': c['OPTIONS']['CLIENT_CLASS'], 'location': c['LOCATION'], "
        "'embedded': settings.REDIS_EMBEDDED, 'nodes': settings.REDIS_CLUSTER_NODES}))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_cluster_nodes_the_redis_settings_are_unchanged():
    embedded = _settings_shape()
    assert embedded == {
        "client": "django_redis.client.DefaultClient",
        "location": "redis://embedded:6379/0",
        "embedded": True,
        "nodes": [],
    }
    single = _settings_shape(REDIS_URL="redis://127.0.0.1:6379/3")
    assert (single["client"], single["location"], single["embedded"]) == (
        "django_redis.client.DefaultClient",
        "redis://127.0.0.1:6379/3",
        False,
    )


def test_cluster_nodes_switch_the_cache_client_and_name_every_node():
    shape = _settings_shape(REDIS_CLUSTER_NODES="10.0.0.1:7000, 10.0.0.2:7001 10.0.0.3:7002")
    assert shape == {
        "client": "apps.common.redis_cluster.ClusterCacheClient",
        "location": "redis://10.0.0.1:7000/0,redis://10.0.0.2:7001/0,redis://10.0.0.3:7002/0",
        "embedded": False,
        "nodes": ["10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.3:7002"],
    }


def test_production_runs_on_a_cluster_without_redis_url():
    from apps.common.tests.test_settings import GOOD_ENV

    environ = {k: v for k, v in GOOD_ENV.items() if k != "REDIS_URL"}
    shape = _settings_shape(**environ, REDIS_CLUSTER_NODES="redis-node-1:6379,redis-node-2:6379,redis-node-3:6379")
    assert shape["client"] == "apps.common.redis_cluster.ClusterCacheClient"
    assert shape["embedded"] is False


# --- one slot per script call (on every Redis, so a test anywhere catches a cross-slot script) -----------------


def test_a_script_called_with_keys_of_different_slots_is_refused_before_redis_sees_it():
    keys = ["gbm:a", "gbm:b"]
    assert len(script_key_slots(keys)) == 2  # the premise: these two lie in different slots
    with pytest.raises(CrossSlotKeys, match="echo_keys"):
        _ECHO_KEYS(keys=keys)
    assert not issubclass(CrossSlotKeys, RedisError)  # no fail-open path may swallow it


def test_keys_sharing_a_hash_tag_run():
    assert _ECHO_KEYS(keys=["gbm:{t1}:a", "gbm:{t1}:b", "gbm:{t1}:c"]) == 3


def test_the_project_key_builders_keep_each_scripts_keys_in_one_slot():
    for user_id in ("u1", "u2", "someone-else"):
        assert len(script_key_slots(rate_limit_keys(user_id=user_id, scope="trial"))) == 1
    for tag_id in ("T1", "T2", "another-tag"):
        key = tag_bitmap_key(tag_id)
        assert len(script_key_slots([key, f"{key}:rebuild"])) == 1  # RENAME from the scratch key


def test_a_guarded_script_failing_in_a_fail_open_path_is_not_taken_for_an_outage(monkeypatch):
    from apps.dcc import ratelimit

    monkeypatch.setattr(ratelimit, "rate_limit_keys", lambda **_: ["gbm:a", "gbm:b", "gbm:c"])
    with pytest.raises(CrossSlotKeys):
        rate_limit_check(user_id="u1")  # not "Redis down, let it through"


@pytest.mark.django_db
def test_an_unreachable_cluster_is_redis_down_for_the_fail_open_paths():
    closed = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {
                "CLIENT_CLASS": "apps.common.redis_cluster.ClusterCacheClient",
                "SOCKET_CONNECT_TIMEOUT": 0.2,
                "SOCKET_TIMEOUT": 0.2,
            },
        }
    }
    with override_settings(CACHES=closed):
        with pytest.raises(RedisError):  # redis-py's ConnectionError, not its RedisClusterException
            get_redis()
        rate_limit_check(user_id="u1")  # fails open, as on a single server


# --- on a real cluster ----------------------------------------------------------------------------------------


def test_the_cluster_client_is_the_process_redis(redis_cluster):
    assert get_redis() is redis_cluster
    assert len(redis_cluster.get_primaries()) >= 3


def test_every_thread_shares_the_process_cluster_client(redis_cluster):
    """Django makes a cache client per thread; a RedisCluster per thread would fetch the slot map and the command
    table again in each (and hold its own connections)."""
    seen = []
    thread = threading.Thread(target=lambda: seen.append(get_redis()))
    thread.start()
    thread.join(timeout=10)
    assert seen == [redis_cluster]
    assert seen[0] is redis_cluster


def test_the_cache_spans_slots(redis_cluster):
    values = {f"key-{n}": n for n in range(30)}  # 30 keys: spread over every primary
    slots = {redis_cluster.keyslot(cache.make_key(key)) for key in values}
    assert len(slots) > 1
    cache.set_many(values, 60)
    assert cache.get_many([*values, "missing"]) == values
    assert cache.get("key-7") == 7
    cache.delete_many(["key-1", "key-2"])
    assert cache.get_many(["key-1", "key-2", "key-3"]) == {"key-3": 3}
    assert cache.delete_pattern("key-1*") == 10  # key-10..19 (key-1 is gone)
    assert cache.get("key-15") is None and cache.get("key-20") == 20
    cache.clear()
    assert cache.get("key-20") is None


def test_the_cluster_refuses_a_cross_slot_script_by_itself(redis_cluster, settings):
    settings.REDIS_CHECK_SCRIPT_SLOTS = False  # without the guard, the cluster client refuses it anyway
    with pytest.raises(Exception, match=r"same key slot|CROSSSLOT"):
        RATE_LIMIT(keys=["gbm:a", "gbm:b", "gbm:c"], args=[1, 5, 0, 60])


@pytest.mark.django_db
def test_a_bitmap_rebuild_renames_within_its_slot(redis_cluster):
    bitmap_replace("T-cluster", ["alice", "bob"])
    assert redis_cluster.exists(tag_bitmap_key("T-cluster")) == 1


def test_pubsub_reaches_a_subscriber_on_any_node(redis_cluster):
    channel = f"{settings.CACHE_INVALIDATION_CHANNEL}:cluster-test"
    subscribers = []
    for node in redis_cluster.get_primaries():
        pubsub = redis_cluster.pubsub(node=node)
        pubsub.subscribe(channel)
        subscribers.append(pubsub)
    try:
        for pubsub in subscribers:
            assert pubsub.get_message(timeout=2)["type"] == "subscribe"
        redis_publish_all(channel, ["one", "two"])
        for pubsub in subscribers:
            received = []
            deadline = time.monotonic() + 2
            while len(received) < 2 and time.monotonic() < deadline:
                message = pubsub.get_message(timeout=0.2)
                if message and message["type"] == "message":
                    received.append(message["data"])
            assert received == [b"one", b"two"]
    finally:
        for pubsub in subscribers:
            pubsub.close()
