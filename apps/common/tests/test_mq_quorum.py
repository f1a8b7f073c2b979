"""The bus's queues are quorum queues on the real RabbitMQ; a classic queue of their names is replaced when empty,
refused with what to do when it holds messages (never dropped)."""

import uuid
from contextlib import suppress
from typing import Any

import pytest
from amqp.exceptions import PreconditionFailed
from django.core.management import CommandError, call_command
from kombu import Connection, Exchange, Queue

from apps.common import mq

pytestmark = [pytest.mark.services]


@pytest.fixture
def bus_names(rabbitmq, settings, monkeypatch):
    """The bus under queue names of this test only (mq reads ROUTES at call time), deleted afterwards."""
    suffix = uuid.uuid4().hex[:8]
    routes = {key: f"gbm_test_{suffix}_{name.removeprefix('group_buy_market_')}" for key, name in mq.ROUTES.items()}
    monkeypatch.setattr(mq, "ROUTES", routes)
    monkeypatch.setattr(mq, "_declared_urls", set())
    yield routes
    with Connection(settings.GBM_MQ_URL) as conn:
        channel = conn.channel()
        for name in routes.values():
            for queue in (name, f"{name}.dead"):
                channel.queue_delete(queue=queue)


def _queue_type(conn: Connection, queue: Queue) -> str:
    """The type RabbitMQ holds for ``queue`` (which exists): redeclaring it as a quorum queue with its very arguments
    passes only if it is one (a classic queue answers PRECONDITION_FAILED on x-queue-type)."""
    channel: Any = conn.channel()
    try:
        queue(channel).declare()
        return "quorum"
    except PreconditionFailed as exc:
        assert "x-queue-type" in str(exc)
        return "classic"
    finally:
        with suppress(Exception):
            channel.close()


def _classic(conn: Connection, routing_key: str) -> Queue:
    """The queue as the previous release declared it: classic, same name and bindings."""
    name = mq.ROUTES[routing_key]
    queue = Queue(
        name,
        Exchange(mq.exchange().name, type="topic", durable=True),
        routing_key=routing_key,
        durable=True,
        queue_arguments={"x-dead-letter-exchange": mq.dead_letter_exchange().name, "x-dead-letter-routing-key": name},
    )
    queue(conn.channel()).declare()
    return queue


def test_the_bus_queues_are_declared_as_quorum_queues_idempotently(bus_names, settings):
    with Connection(settings.GBM_MQ_URL) as conn:
        first = mq.mq_queues_declare(conn)
        again = mq.mq_queues_declare(conn)
        assert {q.outcome for q in first} == {"declared"} and first == again
        assert [_queue_type(conn, queue) for queue in mq.bus_queues()] == ["quorum"] * 2 * len(bus_names)


def test_an_empty_classic_queue_is_migrated(bus_names, settings):
    with Connection(settings.GBM_MQ_URL) as conn:
        _classic(conn, mq.TEAM_SUCCESS)
        assert _queue_type(conn, mq.queue_for(mq.TEAM_SUCCESS)) == "classic"
        outcomes = {q.name: q.outcome for q in mq.mq_queues_declare(conn)}
        assert outcomes[bus_names[mq.TEAM_SUCCESS]] == "migrated"
        assert _queue_type(conn, mq.queue_for(mq.TEAM_SUCCESS)) == "quorum"


def test_a_classic_queue_holding_messages_is_refused_and_keeps_them(bus_names, settings):
    with Connection(settings.GBM_MQ_URL) as conn:
        queue = _classic(conn, mq.TEAM_SUCCESS)
        producer = conn.Producer(serializer="json")
        producer.publish({"teamId": "T1"}, exchange=queue.exchange, routing_key=mq.TEAM_SUCCESS, delivery_mode=2)
        with pytest.raises(CommandError, match=r"classic queue holding 1 message.*drain it"):
            call_command("mq_declare")
        _, depth, _ = conn.channel().queue_declare(queue=bus_names[mq.TEAM_SUCCESS], passive=True)
        assert depth == 1  # nothing dropped
        assert _queue_type(conn, mq.queue_for(mq.TEAM_SUCCESS)) == "classic"


def test_publishing_replaces_an_empty_classic_queue_and_delivers_into_the_quorum_queue(bus_names, settings):
    with Connection(settings.GBM_MQ_URL) as conn:
        _classic(conn, mq.TEAM_SUCCESS)
    mq.mq_publish(routing_key=mq.TEAM_SUCCESS, body={"teamId": "T2"}, message_id="m-1")
    with Connection(settings.GBM_MQ_URL) as conn:
        assert _queue_type(conn, mq.queue_for(mq.TEAM_SUCCESS)) == "quorum"
        _, depth, _ = conn.channel().queue_declare(queue=bus_names[mq.TEAM_SUCCESS], passive=True)
        assert depth == 1


def test_the_command_prints_each_queue(bus_names, capsys):
    call_command("mq_declare")
    out = capsys.readouterr().out
    for name in bus_names.values():
        assert f"{name}: declared" in out and f"{name}.dead: declared" in out
