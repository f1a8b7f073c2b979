"""Reminder jobs racing on real MariaDB (and Redis): however many run at once, each team's news is announced once,
each shopper gets each message once, and an opted-in mall gets one team_expiring callback."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from apps.common.mq import TEAM_REFUND
from apps.notifications.consumers import message_apply
from apps.notifications.models import InboxMessage, NotifyTask, TeamReminder
from apps.payments.models import RefundRecord
from apps.payments.reminders import team_reminders_run
from apps.payments.tasks import send_team_reminders
from apps.payments.tests.test_reminders import a_team, age, pay, team_of
from apps.trade.models import Team
from apps.trade.tests.helpers import in_thread
from apps.trade.timeouts import trade_timeouts_run

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

THREADS = 8


@pytest.fixture
def news(mariadb, real_redis, mall_offer, tasks_run_inline):
    """Three teams with news: one about to expire (2 members, its mall opted in), one formed (3 paid), one failed
    whose paid member got the money back. Answers the time at which all three are due."""
    mall_offer.credential.team_expiring_callback = True
    mall_offer.credential.save()
    expiring = team_of(a_team(mall_offer, "demo1", "demo2")[0])
    for order in a_team(mall_offer, "demo3", "demo4", "demo5"):
        pay(order)
    (failed,) = a_team(mall_offer, "demo6")
    pay(failed)
    age(team_of(failed), minutes=16)
    trade_timeouts_run()
    for task in NotifyTask.objects.filter(notify_type="MQ", notify_mq=TEAM_REFUND):
        message_apply(routing_key=TEAM_REFUND, message_uuid=str(task.uuid), body=task.parameter_json)
    assert RefundRecord.objects.get().status == "SUCCESS"
    assert team_of(failed).status == Team.Status.FAILED
    return expiring.valid_end_time - timedelta(minutes=4)


def assert_announced_once() -> None:
    assert InboxMessage.objects.filter(kind="team_expiring").count() == 2
    assert InboxMessage.objects.filter(kind="team_formed").count() == 3
    assert InboxMessage.objects.filter(kind="team_failed").count() == 1
    assert TeamReminder.objects.count() == 2  # expiring + formed (failed is gated per shopper)
    assert NotifyTask.objects.filter(notify_category="team_expiring").count() == 1


def test_jobs_racing_past_the_lock_still_announce_everything_once(news):
    """The Redis lock expired or a second beat runs: the database's unique keys are the last guard."""
    start = threading.Barrier(THREADS)

    def job(_):
        start.wait()
        return team_reminders_run(now=news)

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(in_thread(job), range(THREADS)))
    totals = {key: sum(result[key] for result in results) for key in results[0]}
    assert totals == {"expiring": 2, "callbacks": 1, "formed": 3, "failed": 1}
    assert_announced_once()


def test_beat_tasks_at_once_take_turns_under_the_redis_lock(news, monkeypatch):
    from apps.payments import tasks

    monkeypatch.setattr(tasks, "team_reminders_run", lambda: team_reminders_run(now=news))  # when all are due
    start = threading.Barrier(THREADS)

    def task(_):
        start.wait()
        return send_team_reminders.apply().get()

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(in_thread(task), range(THREADS)))
    assert sum(result.get("formed", 0) for result in results) == 3
    assert_announced_once()


def test_the_team_expiring_callback_reaches_its_queue_on_rabbitmq(rabbitmq, mariadb, mall_offer, settings):
    """Delivered by the outbox like every callback: published on ``topic.team_expiring``, the uuid in its header."""
    from kombu import Connection

    from apps.common.mq import TEAM_EXPIRING, queue_for
    from apps.notifications.services import notify_task_deliver

    with Connection(settings.GBM_MQ_URL) as conn:
        queue_for(TEAM_EXPIRING)(conn.default_channel).declare()
        queue_for(TEAM_EXPIRING)(conn.default_channel).purge()
    mall_offer.credential.team_expiring_callback = True
    mall_offer.credential.save()
    (leader,) = a_team(mall_offer, "demo1")
    team = team_of(leader)
    assert team_reminders_run(now=team.valid_end_time - timedelta(minutes=4))["callbacks"] == 1
    task = notify_task_deliver(task_id=NotifyTask.objects.get(notify_category="team_expiring").pk)
    assert task.notify_status == NotifyTask.Status.DONE
    with Connection(settings.GBM_MQ_URL) as conn:
        message = queue_for(TEAM_EXPIRING)(conn.default_channel).get(no_ack=True)
    assert message is not None
    assert message.headers["uuid"] == str(task.uuid)
    assert message.payload["teamId"] == team.team_id and message.payload["type"] == "team_expiring"
