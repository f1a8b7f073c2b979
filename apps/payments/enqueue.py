"""Enqueue the payments' Celery tasks by their registered name.

``tasks.py`` (the adapters) imports the flows; a flow or the sandbox gateway importing ``tasks.py`` back
would close an import cycle (gateways → tasks → orders/refunds → gateways). A task's name is already its
contract with the broker and with beat's schedule (``CELERY_BEAT_SCHEDULE``), so the callers name the task
and Celery's registry resolves it.
"""

from __future__ import annotations

from typing import Any

from celery import current_app

REFUND_MALL_ORDER = "apps.payments.tasks.refund_mall_order"
SANDBOX_NOTIFY_DELIVER = "apps.payments.tasks.sandbox_notify_deliver"


def task_delay(name: str, *args: Any) -> None:
    """``delay`` the payments task ``name``; call it from an on-commit callback."""
    registry = current_app.tasks
    if name not in registry:  # a web process imports no tasks.py on its own; a worker has them all
        current_app.autodiscover_tasks(["apps.payments"], force=True)
    registry[name].delay(*args)
