"""The after-commit enqueue of a delivery (apps/common/task_enqueue.py): the message ``delay`` would send, on a
real RabbitMQ queue, run by the worker's request machinery; a broker outage only logs; eager mode delivers."""

import logging
import uuid

import pytest
from celery.worker.request import Request
from kombu import Connection

from apps.notifications.models import NotifyTask
from apps.notifications.signals import notify_task_committed
from apps.notifications.tasks import deliver_notify_task
from apps.notifications.tests.test_delivery import complete_team

pytestmark = pytest.mark.django_db

# What differs between any two messages of one task: its id, and the AMQP id pairing it with a result.
PER_MESSAGE = {"id", "root_id", "correlation_id"}


@pytest.fixture
def task_queue(rabbitmq, settings):
    """A Celery default queue of the test's own (the shared ``celery`` queue holds other runs' messages)."""
    name = f"gbm_test_enqueue_{uuid.uuid4().hex[:12]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    with Connection(rabbitmq) as conn:
        yield conn.SimpleQueue(name, no_ack=False)
        conn.default_channel.queue_delete(name)


def received(queue, count: int) -> list:
    return [queue.get(timeout=5) for _ in range(count)]


def shape(message) -> dict:
    """A message minus what is unique to it (properties as sent: AMQP leaves out what is unset)."""
    props = {k: v for k, v in message.properties.items() if k not in PER_MESSAGE | {"application_headers"}}
    headers = {k: v for k, v in message.headers.items() if k not in PER_MESSAGE}
    return {"headers": headers, "properties": props, "body": message.decode()}


@pytest.mark.services
def test_each_enqueue_is_the_message_delay_sends_and_the_worker_runs_it(
    task_queue, mariadb, offer, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        complete_team(offer, notify_url=receiver.url)
    task = NotifyTask.objects.get()
    notify_task_committed.send(sender=NotifyTask, task_id=task.pk)  # a second publish: the queue already bound
    deliver_notify_task.delay(task.pk)  # Celery's own path, for comparison
    first, second, by_delay = received(task_queue, 3)
    assert shape(first) == shape(second) == shape(by_delay)
    assert shape(first)["body"][0] == [task.pk]
    assert first.delivery_info["routing_key"] == task_queue.queue.name

    Request(first, app=deliver_notify_task.app).execute()  # as a worker runs what it took off the queue
    task.refresh_from_db()
    assert (task.notify_status, task.notify_count, len(receiver.received)) == (NotifyTask.Status.DONE, 1, 1)
    Request(second, app=deliver_notify_task.app).execute()  # at-least-once: a second message sends nothing
    assert len(receiver.received) == 1
    for message in (first, second, by_delay):
        message.ack()


def test_a_broker_outage_only_logs_and_the_next_enqueue_reconnects(
    rabbitmq, task_queue, offer, receiver, settings, django_capture_on_commit_callbacks, caplog
):
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"  # connection refused at once
    with (
        caplog.at_level(logging.WARNING, logger="apps.notifications.services"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        complete_team(offer, notify_url=receiver.url)  # the settle succeeds
    task = NotifyTask.objects.get()
    assert task.notify_status == NotifyTask.Status.NEW  # the sweep delivers it
    assert f"notify task {task.pk} not enqueued" in caplog.text

    settings.CELERY_BROKER_URL = rabbitmq  # the broker is back
    notify_task_committed.send(sender=NotifyTask, task_id=task.pk)
    [message] = received(task_queue, 1)
    assert message.decode()[0] == [task.pk]
    message.ack()


def test_eager_mode_delivers_in_process(offer, receiver, settings, django_capture_on_commit_callbacks):
    """The embedded demo (``make run``) runs Celery eagerly: the enqueue is the delivery."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with django_capture_on_commit_callbacks(execute=True):
        complete_team(offer, notify_url=receiver.url)
    task = NotifyTask.objects.get()
    assert (task.notify_status, len(receiver.received)) == (NotifyTask.Status.DONE, 1)
