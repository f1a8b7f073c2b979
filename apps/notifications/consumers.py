"""Consuming team callbacks from the bus: at-least-once delivery, exactly-once effect.

Apps register handlers per routing key (``register_handler``). For each message every handler runs
in its own transaction together with a ``ProcessedMessage`` row keyed by (handler, message uuid),
so a redelivered message changes nothing. The message is acked only after every handler
committed. A handler that raises gets the message back ``MAX_TRIES`` times (republished with a
try counter); then it is rejected into the dead-letter queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kombu
from django.db import IntegrityError, close_old_connections, connection, transaction
from kombu import Connection
from kombu.message import Message
from kombu.mixins import ConsumerMixin
from kombu.transport.base import StdChannel
from prometheus_client import Counter

from apps.common.logging import bound_context
from apps.common.metrics import counter_labels_init
from apps.common.mq import TEAM_REFUND, TEAM_SUCCESS, exchange, mq_queues_ensure, queue_for
from apps.notifications.models import ProcessedMessage

logger = logging.getLogger(__name__)

MAX_TRIES = 3
TRIES_HEADER = "x-gbm-tries"
CONSUMED = Counter("gbm_mq_messages_total", "Messages consumed from the bus", ["routing_key", "result"])
counter_labels_init(
    CONSUMED,
    [(key, result) for key in (TEAM_SUCCESS, TEAM_REFUND) for result in ("applied", "duplicate", "retry", "poison",
                                                                          "dead_lettered")],
)  # fmt: skip


@dataclass(frozen=True)
class Handler:
    name: str
    routing_key: str
    handle: Callable[[dict], None]


_handlers: dict[str, list[Handler]] = {}


def register_handler(*, name: str, routing_key: str, handle: Callable[[dict], None]) -> None:
    existing = _handlers.setdefault(routing_key, [])
    if any(h.name == name for h in existing):
        return  # AppConfig.ready may run twice in tests
    existing.append(Handler(name, routing_key, handle))


def handlers_for(routing_key: str) -> list[Handler]:
    return list(_handlers.get(routing_key, []))


def message_apply(*, routing_key: str, message_uuid: str, body: dict) -> int:
    """Run every handler of ``routing_key`` once per message uuid. Returns how many applied it now."""
    applied = 0
    for handler in handlers_for(routing_key):
        try:
            with transaction.atomic():
                ProcessedMessage.objects.create(consumer=handler.name, message_uuid=message_uuid)
                handler.handle(body)
        except IntegrityError:
            if ProcessedMessage.objects.filter(consumer=handler.name, message_uuid=message_uuid).exists():
                continue  # a redelivery: this handler already applied it
            raise
        applied += 1
    return applied


class TeamCallbackConsumer(ConsumerMixin):
    def __init__(self, connection: Connection, routing_keys: list[str]) -> None:
        self.connection = connection
        self.routing_keys = routing_keys

    def get_consumers(self, Consumer: Callable[..., kombu.Consumer], channel: StdChannel) -> list[kombu.Consumer]:
        mq_queues_ensure(self.connection)  # quorum queues, an empty classic one replaced (apps/common/mq.py)
        queues = [queue_for(key) for key in self.routing_keys]
        return [Consumer(queues=queues, callbacks=[self.on_message], accept=["json"], prefetch_count=10)]

    def on_message(self, body: Any, message: Message) -> None:
        routing_key = message.delivery_info.get("routing_key", "")
        message_uuid = (message.headers or {}).get("uuid") or message.properties.get("message_id")
        with bound_context(message_uuid=message_uuid, routing_key=routing_key):
            if not message_uuid or not isinstance(body, dict):
                logger.error("MQ message without uuid or JSON object body on %s: dead-lettered", routing_key)
                CONSUMED.labels(routing_key, "poison").inc()
                message.reject(requeue=False)
                return
            if not connection.in_atomic_block:  # a long-lived consumer: drop dead or too old DB connections
                close_old_connections()
            try:
                applied = message_apply(routing_key=routing_key, message_uuid=message_uuid, body=body)
            except Exception:
                self._retry_or_dead_letter(body, message, routing_key, message_uuid)
                return
            CONSUMED.labels(routing_key, "applied" if applied else "duplicate").inc()
            message.ack()

    def _retry_or_dead_letter(self, body: Any, message: Message, routing_key: str, message_uuid: str) -> None:
        tries = int((message.headers or {}).get(TRIES_HEADER, 0)) + 1
        if tries >= MAX_TRIES:
            logger.exception("MQ message %s failed %s times: dead-lettered", message_uuid, tries)
            CONSUMED.labels(routing_key, "dead_lettered").inc()
            message.reject(requeue=False)
            return
        logger.exception("MQ message %s failed (try %s), will retry", message_uuid, tries)
        CONSUMED.labels(routing_key, "retry").inc()
        producer = self.connection.Producer(serializer="json")
        producer.publish(
            body, exchange=exchange(), routing_key=routing_key, delivery_mode=2,
            headers={"uuid": message_uuid, TRIES_HEADER: tries}, message_id=message_uuid,
        )  # fmt: skip
        message.ack()


def consumer_thread_start(routing_keys: list[str] | None = None) -> threading.Thread:
    """Consume in a daemon thread of this process: the embedded demo's bus is in-memory, per process."""
    from apps.common.mq import ROUTES, mq_connection

    keys = routing_keys or [key for key in ROUTES if handlers_for(key)]

    def run() -> None:
        with mq_connection() as conn:
            TeamCallbackConsumer(conn, keys).run()

    thread = threading.Thread(target=run, name="mq-consumer", daemon=True)
    thread.start()
    return thread
