"""How a notify task reaches the mall: one small class per notify type, found through a registry."""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod

import requests
from django.conf import settings

from apps.channels.selectors import channel_credential_get
from apps.channels.signing import callback_headers
from apps.common.mq import mq_publish
from apps.common.registry import Registry
from apps.notifications.models import NotifyTask

logger = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """The receiver did not take the message; the text says why (stored as last_error)."""


class Transport(ABC):
    @abstractmethod
    def deliver(self, task: NotifyTask) -> None:
        """Deliver or raise DeliveryFailed."""


transports: Registry[Transport] = Registry("notify transports")


def task_body(task: NotifyTask) -> bytes:
    return json.dumps(task.parameter_json, ensure_ascii=False, separators=(",", ":")).encode()


@transports.register("HTTP")
class HttpTransport(Transport):
    """POST the JSON body, signed with the channel's secret; only 2xx with body ``success`` counts."""

    def deliver(self, task: NotifyTask) -> None:
        body = task_body(task)
        credential = channel_credential_get(source=task.source, channel=task.channel)
        if credential is None:
            raise DeliveryFailed(f"no credential for channel {task.source}/{task.channel} to sign with")
        headers = {"Content-Type": "application/json", "X-GBM-Task": str(task.uuid)}
        headers.update(callback_headers(credential.secret, body))
        try:
            response = requests.post(
                task.notify_url, data=body, headers=headers, timeout=settings.NOTIFY_HTTP_TIMEOUT_SECONDS,
                allow_redirects=False,
            )  # fmt: skip
        except requests.RequestException as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not (200 <= response.status_code < 300 and response.text.strip() == "success"):
            raise DeliveryFailed(f"HTTP {response.status_code}: {response.text[:200]!r}")


@transports.register("MQ")
class MqTransport(Transport):
    """Publish persistently to the topic exchange and wait for the broker's confirm."""

    def deliver(self, task: NotifyTask) -> None:
        try:
            mq_publish(routing_key=task.notify_mq, body=task.parameter_json, message_id=str(task.uuid))
        except Exception as exc:  # kombu/amqp raise many kinds; every one is a failed attempt
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
