"""DCC changes reach other processes through real Redis pub/sub: a separate interpreter, and a forked child."""

import os
import select
import time

import pytest
from django.conf import settings
from redis import Redis
from redis.cluster import RedisCluster

from apps.common.redis import get_redis
from apps.common.tests.children import django_child
from apps.dcc.runtime import dcc_get, dcc_publish_all, dcc_subscribed
from apps.dcc.services import dcc_update

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _servers(client: Redis | RedisCluster) -> list[Redis]:
    """The one server, or each node of a cluster (a subscriber is connected to one of them)."""
    if isinstance(client, RedisCluster):
        return [client.get_redis_connection(node) for node in client.get_nodes()]
    return [client]


def test_a_change_reaches_another_process_within_a_second(real_redis):
    dcc_publish_all()  # the child reads Redis only (its settings name another database than pytest's test one)
    # DCC_RESYNC_SECONDS: so only the pub/sub message can bring the change.
    with django_child("apps.dcc.tests.dcc_watch_child", "cutRange", DCC_RESYNC_SECONDS="3600") as child:
        assert child.next_line(time.monotonic() + 30) == "ready 100"
        started = time.monotonic()
        dcc_update(key="cutRange", value="40", changed_by=None, via="api")  # commits; on_commit publishes
        seen = child.next_line(started + 1.0)
        elapsed = time.monotonic() - started
        assert seen == "changed 40", f"child saw {seen!r} after {elapsed:.3f}s"
        assert dcc_get("cutRange") == 40


def test_a_forked_child_starts_its_own_subscriber(real_redis):
    assert dcc_subscribed(timeout=5)  # the parent's thread runs; a fork copies only the forking thread
    dcc_publish_all()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running pytest's teardown
        try:
            ok = dcc_subscribed(timeout=5)  # an Event of the child's own state: only its own thread sets it
            if ok:
                dcc_get("cutRange")  # the post-subscribe reload; after it only a message can change the value
                get_redis().publish(settings.DCC_PUBSUB_CHANNEL, '{"key": "cutRange", "value": "33"}')
                deadline = time.monotonic() + 2
                while dcc_get("cutRange") != 33 and time.monotonic() < deadline:
                    time.sleep(0.01)
                ok = dcc_get("cutRange") == 33
            os.write(write_end, b"ok" if ok else b"fail")
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 15)
        answer = os.read(read_end, 16) if ready else b"timeout"
    finally:
        os.close(read_end)
        if not ready:
            os.kill(pid, 9)
        os.waitpid(pid, 0)
    assert answer == b"ok"


def test_the_subscriber_reconnects_and_catches_up_after_redis_drops_it(real_redis, caplog):
    assert dcc_subscribed(timeout=5)
    assert dcc_get("cutRange") == 100
    killed = 0
    for server in _servers(real_redis):
        db = server.connection_pool.connection_kwargs.get("db", 0)
        # Only subscribers on the tests' database: a developer's processes on the same server are left alone.
        for connection in server.client_list(_type="pubsub"):
            if str(connection.get("db")) == str(db):
                server.client_kill_filter(_id=connection["id"])
                killed += 1
    assert killed
    # A change made while we were cut off: its message is lost, the post-resubscribe reload finds it.
    real_redis.hset("gbm:dcc", "cutRange", "45")
    real_redis.publish(settings.DCC_PUBSUB_CHANNEL, '{"key": "cutRange", "value": "45"}')
    deadline = time.monotonic() + 5
    while dcc_get("cutRange") != 45 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert dcc_get("cutRange") == 45
    assert dcc_subscribed(timeout=5)
    assert "subscriber lost Redis" in caplog.text
