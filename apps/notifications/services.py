"""The notify outbox: rows written in the caller's transaction, delivered after commit and by a
periodic sweep, each attempt under a lease so no two deliverers send a task at once.

Delivery is at-least-once (a crash between the receiver's answer and our bookkeeping sends it
again): receivers deduplicate by the task uuid (``X-GBM-Task`` header / ``uuid`` message header).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from prometheus_client import Counter, Gauge

from apps.common.db_routing import primary_reads
from apps.common.metrics import counter_labels_init
from apps.common.mq import TEAM_EXPIRING, TEAM_REFUND, TEAM_SUCCESS
from apps.common.rows import row_insert
from apps.notifications.models import NotifyTask, NotifyType
from apps.notifications.signals import notify_task_committed
from apps.notifications.transports import DeliveryFailed, transports

logger = logging.getLogger(__name__)

DELIVERIES = Counter("gbm_notify_deliveries_total", "Notify delivery attempts", ["type", "result"])
counter_labels_init(
    DELIVERIES, [(kind, result) for kind in NotifyType.values for result in ("done", "retry", "failed")]
)
OLDEST_PENDING = Gauge(
    "gbm_notify_oldest_pending_age_seconds",
    "Age of the oldest undelivered notify task, set by each sweep",
    multiprocess_mode="max",
)

ROUTING_KEYS: dict[str, str] = {
    NotifyTask.Category.TRADE_SETTLEMENT: TEAM_SUCCESS,
    NotifyTask.Category.TRADE_UNPAID2REFUND: TEAM_REFUND,
    NotifyTask.Category.TRADE_PAID2REFUND: TEAM_REFUND,
    NotifyTask.Category.TRADE_PAID_TEAM2REFUND: TEAM_REFUND,
    NotifyTask.Category.TEAM_EXPIRING: TEAM_EXPIRING,
}
PENDING = (NotifyTask.Status.NEW, NotifyTask.Status.RETRY)


def notify_task_create(
    *,
    activity_id: int,
    team_id: str,
    source: str,
    channel: str,
    category: str,
    payload: dict,
    notify_type: str,
    notify_url: str = "",
) -> int:
    """One callback about team ``team_id`` over ``notify_type`` (HTTP to ``notify_url``, else the bus
    under the category's routing key); delivered after the commit. Plain values: the outbox knows no trade rows.

    Answers the task's id. One INSERT without a model instance (``apps.common.rows``): a team's completion
    writes it on the settle hot path.
    """
    is_http = notify_type == NotifyType.HTTP
    task_id = row_insert(
        NotifyTask,
        activity_id=activity_id,
        team_id=team_id,
        source=source,
        channel=channel,
        notify_category=category,
        notify_type=notify_type,
        notify_mq="" if is_http else ROUTING_KEYS[category],
        notify_url=notify_url if is_http else "",
        parameter_json=payload,
    )
    transaction.on_commit(lambda: _enqueue(task_id))
    return task_id


def _enqueue(task_id: int) -> None:
    try:
        notify_task_committed.send(sender=NotifyTask, task_id=task_id)  # tasks.py enqueues the delivery
    except Exception as exc:  # broker down: the periodic sweep delivers it
        logger.warning("notify task %s not enqueued (%s); the sweep will deliver it", task_id, exc)


def _claim(task_id: int) -> bool:
    """Lease a pending, due task for one delivery attempt. False when someone else holds it."""
    now = timezone.now()
    return bool(
        NotifyTask.objects.filter(pk=task_id, notify_status__in=PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .update(leased_until=now + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS))
    )


def backoff(attempts: int) -> timedelta:
    """15 s, 30 s, 60 s, … capped (settings), after the n-th failed attempt."""
    seconds = settings.NOTIFY_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.NOTIFY_BACKOFF_MAX_SECONDS))


@primary_reads()  # its reads never come from a replica (apps/common/db_routing.py)
def notify_task_deliver(*, task_id: int) -> NotifyTask | None:
    """One delivery attempt of one task; None when it was not due or someone else holds it."""
    if not _claim(task_id):
        return None
    task = NotifyTask.objects.get(pk=task_id)
    attempts = task.notify_count + 1
    try:
        transports[task.notify_type].deliver(task)
    except DeliveryFailed as exc:
        failed = attempts >= settings.NOTIFY_MAX_ATTEMPTS
        task.notify_status = NotifyTask.Status.FAILED if failed else NotifyTask.Status.RETRY
        task.next_attempt_at = None if failed else timezone.now() + backoff(attempts)
        task.last_error = str(exc)[:2000]
        DELIVERIES.labels(task.notify_type, "failed" if failed else "retry").inc()
        log = logger.error if failed else logger.warning
        log("notify task %s (%s) attempt %s failed: %s", task.uuid, task.notify_category, attempts, exc)
    else:
        task.notify_status = NotifyTask.Status.DONE
        task.delivered_at = timezone.now()
        task.next_attempt_at = None
        task.last_error = ""
        DELIVERIES.labels(task.notify_type, "done").inc()
    task.notify_count = attempts
    task.leased_until = None
    task.save(
        update_fields=["notify_status", "notify_count", "next_attempt_at", "leased_until", "delivered_at",
                       "last_error", "update_time"]
    )  # fmt: skip
    return task


def notify_tasks_due(*, limit: int) -> list[int]:
    now = timezone.now()
    return list(
        NotifyTask.objects.filter(notify_status__in=PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )


@primary_reads()  # its reads never come from a replica (apps/common/db_routing.py)
def notify_tasks_deliver_due(*, limit: int | None = None) -> int:
    """Deliver every new or due task in batches; returns how many attempts were made here."""
    limit = limit or settings.NOTIFY_BATCH_SIZE
    attempted = 0
    for task_id in notify_tasks_due(limit=limit):
        if notify_task_deliver(task_id=task_id) is not None:
            attempted += 1
    oldest = (
        NotifyTask.objects.filter(notify_status__in=PENDING)
        .order_by("create_time")
        .values_list("create_time", flat=True)
        .first()
    )
    OLDEST_PENDING.set((timezone.now() - oldest).total_seconds() if oldest else 0)
    return attempted


def notify_tasks_requeue(*, task_ids: list[int]) -> int:
    """Staff: give failed tasks another round of attempts, now."""
    return NotifyTask.objects.filter(pk__in=task_ids, notify_status=NotifyTask.Status.FAILED).update(
        notify_status=NotifyTask.Status.RETRY, notify_count=0, next_attempt_at=None, leased_until=None,
        update_time=timezone.now(),
    )  # fmt: skip
