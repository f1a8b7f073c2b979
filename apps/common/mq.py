"""The team-callback message bus: one durable topic exchange on RabbitMQ (or kombu's memory
transport in the embedded shape), persistent messages, publisher confirms.

Queues (declared by publisher and consumers alike, so either may start first), ``GBM_QUEUE_PREFIX`` being
``group_buy_market`` (the test settings use their own):

* ``group_buy_market_team_success`` ← ``topic.team_success``
* ``group_buy_market_team_refund``  ← ``topic.team_refund``
* ``group_buy_market_team_expiring`` ← ``topic.team_expiring`` (opt-in per channel: a team about to expire)

each dead-lettering to ``<GBM_EXCHANGE>_dlx`` → ``<queue>.dead`` for poison messages.

Every one of them is a **quorum queue** (``x-queue-type: quorum``): replicated by Raft over the cluster's
nodes, so a callback survives the loss of a minority of them (a classic queue lives on one node). RabbitMQ
cannot change a queue's type in place: ``mq_queues_declare`` replaces an *empty* classic queue of these names
by a quorum one and refuses, with what to do, a classic queue that still holds messages (never dropping them).
Publisher and consumer run it before their first use of the bus in a process; ``manage.py mq_declare`` runs it
at deploy time. Celery's own task queue stays classic (docs/decisions/018-quorum-queues-for-the-bus.md): its
countdown retries would need native delayed delivery on quorum queues, and what it carries is re-created from
the database (the outbox sweep, the timeout sweeps) if lost.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from amqp.exceptions import PreconditionFailed
from django.conf import settings
from kombu import Connection, Exchange, Queue

logger = logging.getLogger(__name__)

TEAM_SUCCESS = "topic.team_success"
TEAM_REFUND = "topic.team_refund"
TEAM_EXPIRING = "topic.team_expiring"
ROUTES = {
    TEAM_SUCCESS: f"{settings.GBM_QUEUE_PREFIX}_team_success",
    TEAM_REFUND: f"{settings.GBM_QUEUE_PREFIX}_team_refund",
    TEAM_EXPIRING: f"{settings.GBM_QUEUE_PREFIX}_team_expiring",
}


def exchange() -> Exchange:
    return Exchange(settings.GBM_EXCHANGE, type="topic", durable=True)


def dead_letter_exchange() -> Exchange:
    return Exchange(f"{settings.GBM_EXCHANGE}_dlx", type="direct", durable=True)


QUORUM = {"x-queue-type": "quorum"}


def queue_for(routing_key: str) -> Queue:
    name = ROUTES[routing_key]
    return Queue(
        name,
        exchange(),
        routing_key=routing_key,
        durable=True,
        queue_arguments={
            **QUORUM,
            "x-dead-letter-exchange": dead_letter_exchange().name,
            "x-dead-letter-routing-key": name,
        },
    )


def dead_letter_queue_for(routing_key: str) -> Queue:
    name = ROUTES[routing_key]
    return Queue(f"{name}.dead", dead_letter_exchange(), routing_key=name, durable=True, queue_arguments=QUORUM)


def bus_queues() -> list[Queue]:
    """Every queue of the bus, each routing key's queue before its dead-letter queue."""
    return [queue for key in ROUTES for queue in (queue_for(key), dead_letter_queue_for(key))]


class ClassicQueueInTheWay(Exception):
    """A classic queue of a bus queue's name still holds messages: it cannot become a quorum queue in place."""


@dataclass(frozen=True)
class QueueDeclared:
    name: str
    outcome: str  # "declared" (quorum already, or new) or "migrated" (an empty classic queue replaced)


def mq_queues_declare(conn: Connection) -> list[QueueDeclared]:
    """Declare every bus queue as a quorum queue, idempotently; replace an empty classic queue of the same name.

    A classic queue holding messages (or with a consumer attached) raises ``ClassicQueueInTheWay`` naming it and
    its depth: its messages are never dropped. Drain it with the old consumers, then declare again.
    """
    if conn.transport.driver_type != "amqp":
        for queue in bus_queues():  # the memory transport has no queue types: plain declares
            queue(conn.default_channel).declare()
        return [QueueDeclared(queue.name, "declared") for queue in bus_queues()]
    return [_quorum_declare(conn, queue) for queue in bus_queues()]


def _quorum_declare(conn: Connection, queue: Queue) -> QueueDeclared:
    channel: Any = conn.channel()
    try:
        queue(channel).declare()
        return QueueDeclared(queue.name, "declared")
    except PreconditionFailed as exc:  # RabbitMQ closes the channel on a failed declare
        if "x-queue-type" not in str(exc):
            raise
    finally:
        _close_quietly(channel)
    channel = conn.channel()
    try:
        _, depth, consumers = channel.queue_declare(queue=queue.name, passive=True)
        if depth or consumers:
            raise ClassicQueueInTheWay(
                f"RabbitMQ queue {queue.name!r} is a classic queue holding {depth} message(s) with {consumers} "
                "consumer(s); a quorum queue cannot replace it in place. Stop the publishers (web, worker), let the "
                "old consumers drain it (manage.py run_consumers of the previous release), then run "
                "`manage.py mq_declare` again."
            )
        channel.queue_delete(queue=queue.name, if_unused=True, if_empty=True)
        queue(channel).declare()
    finally:
        _close_quietly(channel)
    logger.warning("RabbitMQ queue %s was an empty classic queue: replaced by a quorum queue", queue.name)
    return QueueDeclared(queue.name, "migrated")


def _close_quietly(channel: Any) -> None:
    with contextlib.suppress(Exception):  # a channel RabbitMQ already closed after an error: nothing to release
        channel.close()


_declared_urls: set[str] = set()
_declared_lock = threading.Lock()


def mq_queues_ensure(conn: Connection) -> None:
    """``mq_queues_declare`` once per process and broker: before the first publish or consume here."""
    url = conn.as_uri()
    if url in _declared_urls:
        return
    with _declared_lock:
        if url not in _declared_urls:
            mq_queues_declare(conn)
            _declared_urls.add(url)


def mq_connection() -> Connection:
    """A connection to the bus; publisher confirms on AMQP (the broker acks each persistent message)."""
    return Connection(
        settings.GBM_MQ_URL,
        connect_timeout=settings.GBM_MQ_CONNECT_TIMEOUT,
        transport_options={"confirm_publish": True},
    )


def mq_publish(*, routing_key: str, body: dict[str, Any], message_id: str) -> None:
    """Publish one persistent JSON message and wait for the broker's confirm. Errors propagate."""
    with mq_connection() as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.GBM_MQ_CONNECT_TIMEOUT)
        mq_queues_ensure(conn)
        producer = conn.Producer(serializer="json")
        producer.publish(
            json.loads(json.dumps(body)),
            exchange=exchange(),
            routing_key=routing_key,
            declare=[queue_for(routing_key), dead_letter_queue_for(routing_key)],
            delivery_mode=2,
            headers={"uuid": message_id},
            message_id=message_id,
            retry=False,
        )
