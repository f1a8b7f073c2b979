"""MQ delivery and consumption on the real RabbitMQ; the sweep in two processes at once."""

import multiprocessing
import uuid as uuidlib
from contextlib import suppress

import pytest
from django.db import connections
from kombu import Connection

from apps.common.mq import TEAM_SUCCESS, mq_publish, queue_for
from apps.notifications.consumers import TeamCallbackConsumer, message_apply, register_handler
from apps.notifications.models import NotifyTask, ProcessedMessage
from apps.notifications.services import notify_task_deliver
from apps.notifications.tasks import deliver_due_notify_tasks
from apps.notifications.tests.test_delivery import complete_team, make_due
from apps.trade.models import NotifyType
from apps.trade.tests.helpers import lock_team, settle_orders

pytestmark = [pytest.mark.services, pytest.mark.django_db]

applied: list[dict] = []


def _record(body: dict) -> None:
    applied.append(body)


@pytest.fixture
def bus(rabbitmq, mariadb, settings):
    """Fresh queues for the test: purge what earlier runs left."""
    applied.clear()
    register_handler(name="test-recorder", routing_key=TEAM_SUCCESS, handle=_record)
    with Connection(settings.GBM_MQ_URL) as conn:
        queue_for(TEAM_SUCCESS)(conn.default_channel).declare()
        queue_for(TEAM_SUCCESS)(conn.default_channel).purge()
    return settings.GBM_MQ_URL


def drain(url: str, timeout: float = 2.0) -> None:
    with Connection(url) as conn:
        consumer = TeamCallbackConsumer(conn, [TEAM_SUCCESS])
        # celery-types declares consume() as returning None with int seconds: it is a generator, floats work.
        for _ in consumer.consume(limit=None, timeout=timeout, safety_interval=0.2):  # type: ignore[func-returns-value,attr-defined,arg-type]
            pass


def consume_once(url: str) -> None:
    """Consume what is queued; the consumer stops when nothing arrives for a second."""
    with suppress(TimeoutError):
        drain(url, timeout=1.0)


def test_mq_delivery_publishes_once_and_the_consumer_applies_it(bus, offer):
    team_id = complete_team(offer, notify_type=NotifyType.MQ)
    task = notify_task_deliver(task_id=NotifyTask.objects.get().pk)
    assert task.notify_status == NotifyTask.Status.DONE
    consume_once(bus)
    paid = ["OTN-demo1", "OTN-demo2", "OTN-demo3"]
    assert applied == [{**offer.in_channel, "teamId": team_id, "outTradeNoList": paid}]
    assert ProcessedMessage.objects.filter(message_uuid=str(task.uuid)).exists()


def test_the_same_message_twice_has_one_effect(bus):
    message_id = str(uuidlib.uuid4())
    for _ in range(2):
        mq_publish(routing_key=TEAM_SUCCESS, body={"teamId": "12345678", "outTradeNoList": []}, message_id=message_id)
    consume_once(bus)
    assert len(applied) == 1
    assert message_apply(routing_key=TEAM_SUCCESS, message_uuid=message_id, body={}) == 0


def test_rabbitmq_unreachable_keeps_the_task_pending_until_it_is_back(bus, offer, settings):
    complete_team(offer, notify_type=NotifyType.MQ)
    task = NotifyTask.objects.get()
    real_url = settings.GBM_MQ_URL
    settings.GBM_MQ_URL = "amqp://guest:guest@127.0.0.1:1//"
    settings.GBM_MQ_CONNECT_TIMEOUT = 0.5
    failed = notify_task_deliver(task_id=task.pk)
    assert failed.notify_status == NotifyTask.Status.RETRY
    settings.GBM_MQ_URL = real_url
    make_due(task)
    assert notify_task_deliver(task_id=task.pk).notify_status == NotifyTask.Status.DONE
    consume_once(bus)
    assert len(applied) == 1


def _sweep() -> int:
    connections.close_all()
    try:
        return deliver_due_notify_tasks()
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_the_sweep_started_in_two_processes_delivers_each_task_once(bus, offer, receiver):
    for n in range(3):
        users = (f"sweep{n}a", f"sweep{n}b", f"sweep{n}c")
        lock_team(offer, users, notify_type=NotifyType.HTTP, notify_url=receiver.url)
        settle_orders(offer, users)
    # The after-commit deliveries may have run already (eager) or be queued (broker): make all pending.
    NotifyTask.objects.update(notify_status=NotifyTask.Status.NEW, notify_count=0, leased_until=None)
    receiver.received.clear()
    connections.close_all()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pending = [pool.apply_async(_sweep) for _ in range(2)]
        counts = [result.get(timeout=60) for result in pending]
    assert sum(counts) == 3
    uuids = [r.headers["X-GBM-Task"] for r in receiver.received]
    assert sorted(uuids) == sorted(str(u) for u in NotifyTask.objects.values_list("uuid", flat=True))
    assert set(NotifyTask.objects.values_list("notify_status", flat=True)) == {NotifyTask.Status.DONE}
