"""Celery adapters of the mall: the sandbox gateway's notify delivery, the unpaid-order close job, the
money refund and the shoppers' team reminders. Callers enqueue them by name (``enqueue.py``), so nothing
below imports this module back."""

import logging

from celery import Task, shared_task
from django.conf import settings

from apps.common.locks import single_instance
from apps.payments.gateways.sandbox import sandbox_notify_attempt, sandbox_notify_give_up
from apps.payments.orders import mall_order_close_expired
from apps.payments.refunds import mall_order_refund_money
from apps.payments.reminders import team_reminders_purge, team_reminders_run

logger = logging.getLogger(__name__)


def notify_retry_countdown(retries: int) -> int:
    """5 s, 10 s, 20 s, 40 s, 80 s (``SANDBOX_NOTIFY_BACKOFF_SECONDS`` doubled per retry)."""
    return settings.SANDBOX_NOTIFY_BACKOFF_SECONDS * 2**retries


@shared_task(bind=True, ignore_result=True, max_retries=None)
def sandbox_notify_deliver(self: Task, trade_id: int) -> bool:
    """Post the sandbox's signed notify until the mall answers ``success``; like a real gateway, a
    failed attempt (error, timeout, any other answer) is retried with backoff, then given up."""
    if sandbox_notify_attempt(trade_id=trade_id):
        return True
    retries = self.request.retries
    if retries >= settings.SANDBOX_NOTIFY_MAX_RETRIES:
        sandbox_notify_give_up(trade_id=trade_id)
        return False
    if self.request.is_eager:
        # Eager (the embedded demo, tests): no broker holds a delayed retry, and eager propagation
        # would turn ``retry()`` into an error; the next attempt runs now, without the wait.
        return self.apply(args=(trade_id,), retries=retries + 1).get()
    raise self.retry(countdown=notify_retry_countdown(retries))


@shared_task(ignore_result=True)
def close_expired_mall_orders() -> int:
    """Beat (every minute): close unpaid orders past their deadline, one instance at a time."""
    with single_instance("close_expired_mall_orders", ttl_seconds=300) as acquired:
        if not acquired:
            logger.info("mall order close job already running elsewhere")
            return 0
        return mall_order_close_expired()


@shared_task(bind=True, ignore_result=True, max_retries=5)
def refund_mall_order(self: Task, order_id: str, reason: str = "") -> str:
    """Return a mall order's money (idempotent); a failed gateway call is retried with backoff."""
    record = mall_order_refund_money(order_id=order_id, reason=reason)
    if record is not None and record.status != record.Status.SUCCESS:
        if self.request.is_eager:
            return record.status  # the demo has no broker to hold a delayed retry; staff can retry in admin
        raise self.retry(countdown=30 * 2**self.request.retries)
    return record.status if record else "closed"


@shared_task(ignore_result=True)
def send_team_reminders() -> dict:
    """Beat (every 15 s): the team reminders due now (``reminders.py``), one instance at a time."""
    with single_instance("send_team_reminders", ttl_seconds=300) as acquired:
        if not acquired:
            logger.info("team reminders already running elsewhere")
            return {}
        result = team_reminders_run()
        if any(result.values()):
            logger.info("team reminders: %s", result)
        return result


@shared_task(ignore_result=True)
def purge_team_reminders() -> int:
    """Beat, hourly: the reminder gates of teams past the look-back decide nothing any more. Idempotent: no lock."""
    return team_reminders_purge()
