"""Celery adapters for the outbox. Tasks take ids, are idempotent, and own their retry policy."""

import logging
from typing import Any

from celery import shared_task
from django.dispatch import receiver

from apps.common.locks import single_instance
from apps.common.task_enqueue import task_enqueue
from apps.notifications.services import notify_task_deliver, notify_tasks_deliver_due
from apps.notifications.signals import notify_task_committed

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def deliver_notify_task(task_id: int) -> None:
    """Deliver one task right after its commit (failures are rescheduled by the service)."""
    notify_task_deliver(task_id=task_id)


@shared_task(ignore_result=True)
def deliver_due_notify_tasks() -> int:
    """The sweep (beat, every 15 s): new and due tasks, under a lock so one instance runs it."""
    with single_instance("deliver_due_notify_tasks", ttl_seconds=300) as acquired:
        if not acquired:
            logger.info("notify sweep already running elsewhere")
            return 0
        return notify_tasks_deliver_due()


@receiver(notify_task_committed, dispatch_uid="notifications.deliver_after_commit")
def deliver_after_commit(sender: Any, task_id: int, **kwargs: Any) -> None:
    """The service committed a task: deliver it now (its caller logs a broker failure; the sweep retries).

    On the settle hot path: ``task_enqueue`` is ``delay`` at half its CPU (apps/common/task_enqueue.py).
    """
    task_enqueue(deliver_notify_task, task_id)
