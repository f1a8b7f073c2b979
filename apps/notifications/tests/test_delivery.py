"""The outbox end to end: a settlement's callback reaches a real HTTP receiver or RabbitMQ."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.tests.factories import StaffFactory
from apps.activities.tests.factories import Offer
from apps.channels.signing import verify_callback_signature
from apps.notifications.models import NotifyTask
from apps.notifications.services import notify_task_deliver, notify_tasks_deliver_due
from apps.trade.models import NotifyType
from apps.trade.tests.helpers import lock_team, settle_orders

pytestmark = pytest.mark.django_db


def complete_team(offer: Offer, notify_type: str = NotifyType.HTTP, notify_url: str = "") -> str:
    """A team of ``offer`` filled and paid by demo1..3: its completion callback is in the outbox."""
    users = ("demo1", "demo2", "demo3")
    team_id = lock_team(offer, users, notify_type=notify_type, notify_url=notify_url)
    settle_orders(offer, users)
    return team_id


def make_due(task: NotifyTask) -> None:
    NotifyTask.objects.filter(pk=task.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_completion_is_delivered_after_commit_signed(
    offer, receiver, django_capture_on_commit_callbacks, tasks_run_inline
):
    with django_capture_on_commit_callbacks(execute=True):
        team_id = complete_team(offer, notify_url=receiver.url)
    task = NotifyTask.objects.get()
    assert (task.notify_status, task.notify_count) == (NotifyTask.Status.DONE, 1)
    assert task.delivered_at is not None
    [request] = receiver.received
    assert json.loads(request.body) == {
        **offer.in_channel, "teamId": team_id, "outTradeNoList": ["OTN-demo1", "OTN-demo2", "OTN-demo3"]
    }  # fmt: skip
    assert request.headers["X-GBM-Task"] == str(task.uuid)
    assert verify_callback_signature(
        offer.secret, request.headers["X-GBM-Timestamp"], request.body, request.headers["X-GBM-Signature"]
    )


def test_without_a_worker_the_committed_completion_is_only_queued(offer, receiver, django_capture_on_commit_callbacks):
    """Test settings are not eager (as CI and production): the on-commit ``delay`` queues, nothing runs inline."""
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        complete_team(offer, notify_url=receiver.url)
    assert callbacks  # the delivery was handed to the broker after commit
    task = NotifyTask.objects.get()
    assert (task.notify_status, task.notify_count, receiver.received) == (NotifyTask.Status.NEW, 0, [])


def test_a_500_then_success_is_delivered_once_on_the_second_attempt(offer, receiver):
    receiver.answers = [(500, "oops", 0.0)]
    complete_team(offer, notify_url=receiver.url)
    task = NotifyTask.objects.get()
    first = notify_task_deliver(task_id=task.pk)
    assert (first.notify_status, first.notify_count) == (NotifyTask.Status.RETRY, 1)
    assert "HTTP 500" in first.last_error
    assert timedelta(seconds=14) < first.next_attempt_at - timezone.now() <= timedelta(seconds=15)
    assert notify_tasks_deliver_due() == 0  # not due yet: nothing sent
    make_due(task)
    assert notify_tasks_deliver_due() == 1
    task.refresh_from_db()
    assert (task.notify_status, task.notify_count) == (NotifyTask.Status.DONE, 2)
    assert len(receiver.received) == 2
    assert notify_tasks_deliver_due() == 0  # done stays done


def test_an_answer_other_than_success_is_a_failure(offer, receiver):
    receiver.answers = [(200, "ok", 0.0)]
    complete_team(offer, notify_url=receiver.url)
    assert notify_task_deliver(task_id=NotifyTask.objects.get().pk).notify_status == NotifyTask.Status.RETRY


def test_a_receiver_that_times_out(offer, receiver, settings):
    settings.NOTIFY_HTTP_TIMEOUT_SECONDS = 0.3
    receiver.answers = [(200, "success", 1.0)]
    complete_team(offer, notify_url=receiver.url)
    task = notify_task_deliver(task_id=NotifyTask.objects.get().pk)
    assert task.notify_status == NotifyTask.Status.RETRY
    assert "Timeout" in task.last_error


def test_five_failures_mark_the_task_failed_and_staff_can_requeue(offer, receiver, client):
    receiver.default = (503, "busy", 0.0)
    complete_team(offer, notify_url=receiver.url)
    task = NotifyTask.objects.get()
    for _ in range(5):
        make_due(task)
        notify_task_deliver(task_id=task.pk)
    task.refresh_from_db()
    assert (task.notify_status, task.notify_count) == (NotifyTask.Status.FAILED, 5)
    assert notify_tasks_deliver_due() == 0

    client.force_login(StaffFactory())
    response = client.post(
        reverse("admin:notifications_notifytask_changelist"), {"action": "requeue", "_selected_action": [task.pk]}
    )
    assert response.status_code == 302
    receiver.default = (200, "success", 0.0)
    assert notify_tasks_deliver_due() == 1
    task.refresh_from_db()
    assert task.notify_status == NotifyTask.Status.DONE


def test_a_leased_task_is_not_delivered_twice(offer, receiver):
    complete_team(offer, notify_url=receiver.url)
    task = NotifyTask.objects.get()
    NotifyTask.objects.filter(pk=task.pk).update(leased_until=timezone.now() + timedelta(seconds=30))
    assert notify_task_deliver(task_id=task.pk) is None
    assert receiver.received == []


def test_the_in_memory_bus_carries_a_callback_to_an_in_process_consumer(offer, settings):
    """The embedded shape: publish and consume on kombu's memory transport in one process."""
    from contextlib import suppress

    from kombu import Connection

    from apps.common.mq import TEAM_SUCCESS, queue_for
    from apps.notifications.consumers import TeamCallbackConsumer, register_handler

    seen: list[dict] = []
    register_handler(name="memory-test", routing_key=TEAM_SUCCESS, handle=seen.append)
    settings.GBM_MQ_URL = "memory://"
    with Connection("memory://") as conn:  # the in-memory broker lives as long as the process: start empty
        queue_for(TEAM_SUCCESS)(conn.default_channel).declare()
        queue_for(TEAM_SUCCESS)(conn.default_channel).purge()
    team_id = complete_team(offer, notify_type=NotifyType.MQ)
    assert notify_task_deliver(task_id=NotifyTask.objects.get().pk).notify_status == NotifyTask.Status.DONE
    with Connection("memory://") as conn, suppress(TimeoutError):
        for _ in TeamCallbackConsumer(conn, [TEAM_SUCCESS]).consume(timeout=0.5, safety_interval=0.1):
            pass
    assert [body["teamId"] for body in seen] == [team_id]
