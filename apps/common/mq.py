"""The team-callback message bus: one durable topic exchange on RabbitMQ (or kombu's memory
transport in the embedded shape), persistent messages, publisher confirms.

Queues (declared by publisher and consumers alike, so either may start first):

* ``group_buy_market_team_success`` ← ``topic.team_success``
* ``group_buy_market_team_refund``  ← ``topic.team_refund``
* ``group_buy_market_team_expiring`` ← ``topic.team_expiring`` (opt-in per channel: a team about to expire)

each dead-lettering to ``group_buy_market_dlx`` → ``<queue>.dead`` for poison messages.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from kombu import Connection, Exchange, Queue

TEAM_SUCCESS = "topic.team_success"
TEAM_REFUND = "topic.team_refund"
TEAM_EXPIRING = "topic.team_expiring"
ROUTES = {
    TEAM_SUCCESS: "group_buy_market_team_success",
    TEAM_REFUND: "group_buy_market_team_refund",
    TEAM_EXPIRING: "group_buy_market_team_expiring",
}


def exchange() -> Exchange:
    return Exchange(settings.GBM_EXCHANGE, type="topic", durable=True)


def dead_letter_exchange() -> Exchange:
    return Exchange(f"{settings.GBM_EXCHANGE}_dlx", type="direct", durable=True)


def queue_for(routing_key: str) -> Queue:
    name = ROUTES[routing_key]
    return Queue(
        name,
        exchange(),
        routing_key=routing_key,
        durable=True,
        queue_arguments={"x-dead-letter-exchange": dead_letter_exchange().name, "x-dead-letter-routing-key": name},
    )


def dead_letter_queue_for(routing_key: str) -> Queue:
    name = ROUTES[routing_key]
    return Queue(f"{name}.dead", dead_letter_exchange(), routing_key=name, durable=True)


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
