"""The real-service paths: Redis (Lua, bitmaps) and RabbitMQ (kombu) really answer."""

import time
import uuid

import pytest
from django.conf import settings
from kombu import Connection, Exchange, Queue

from apps.tags.bitmap import bitmap_add, bitmap_contains

pytestmark = pytest.mark.services


def test_real_redis_runs_lua_and_bitmaps(real_redis):
    script = real_redis.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert script(keys=["gbm:test:counter"], args=[3]) == 3
    bitmap_add("T1", ["alice"])
    assert bitmap_contains("T1", "alice")
    assert not bitmap_contains("T1", "bob")


def test_rabbitmq_round_trip_on_a_durable_topic_exchange(rabbitmq):
    exchange = Exchange(settings.GBM_EXCHANGE, type="topic", durable=True)
    queue_name = f"gbm.test.{uuid.uuid4().hex}"
    with Connection(rabbitmq, connect_timeout=5) as conn:
        queue = Queue(queue_name, exchange, routing_key="topic.team_success", auto_delete=True)
        queue(conn.default_channel).declare()
        producer = conn.Producer()
        producer.publish({"teamId": "12345678"}, exchange=exchange, routing_key="topic.team_success",
                         declare=[queue], delivery_mode=2, serializer="json")  # fmt: skip
        message = None
        for _ in range(50):  # basic.get may race the publish by a few milliseconds
            message = queue(conn.default_channel).get(no_ack=True)
            if message is not None:
                break
            time.sleep(0.05)
        assert message is not None
        assert message.payload == {"teamId": "12345678"}
        queue(conn.default_channel).delete()
