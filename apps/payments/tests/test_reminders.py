"""Team reminders through their job (``team_reminders_run``, and the beat task): formed, failed and refunded with
the amount, about to expire once, never for a team that changed state, only to this platform's shoppers, and the
malls' opt-in ``team_expiring`` callback."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone, translation

from apps.activities.models import Activity
from apps.common.locks import single_instance
from apps.common.mq import TEAM_EXPIRING, TEAM_REFUND
from apps.notifications.models import InboxMessage, NotifyTask
from apps.notifications.texts import message_text
from apps.payments import reminders
from apps.payments.models import PayOrder, RefundRecord
from apps.payments.reminders import team_reminders_run
from apps.payments.tasks import send_team_reminders
from apps.payments.tests.helpers import create_order, user
from apps.payments.tests.test_refunds import deliver_bus_messages, pay
from apps.trade.models import Team
from apps.trade.services import order_refund
from apps.trade.tests.helpers import lock_team
from apps.trade.timeouts import trade_timeouts_run

pytestmark = pytest.mark.django_db

FORMED, FAILED, EXPIRING = (InboxMessage.Kind.TEAM_FORMED, InboxMessage.Kind.TEAM_FAILED,
                            InboxMessage.Kind.TEAM_EXPIRING)  # fmt: skip


def a_team(offer, leader: str, *joiners: str) -> list[PayOrder]:
    """Mall orders: ``leader`` opens a team of ``offer``, ``joiners`` join it."""
    first = create_order(leader, offer.goods_id)
    return [first, *(create_order(name, offer.goods_id, team_id=first.team_id) for name in joiners)]


def team_of(order: PayOrder) -> Team:
    return Team.objects.get(team_id=order.team_id)


def messages(kind: str | None = None) -> list[tuple[str, str, str]]:
    rows = InboxMessage.objects.order_by("id")
    if kind:
        rows = rows.filter(kind=kind)
    return [(m.user.username, m.team_id, m.kind) for m in rows]


def shortly_before_the_end(team: Team, minutes: float = 4) -> datetime:
    return team.valid_end_time - timedelta(minutes=minutes)


def age(team: Team, minutes: int) -> None:
    """Move the team's validity window ``minutes`` into the past (its deadline passes by the real clock)."""
    shift = timedelta(minutes=minutes)
    Team.objects.filter(pk=team.pk).update(
        valid_start_time=team.valid_start_time - shift, valid_end_time=team.valid_end_time - shift
    )


# --- formed -------------------------------------------------------------------------------------------------


def test_a_formed_team_tells_its_paying_members_once(mall_offer, django_capture_on_commit_callbacks):
    orders = a_team(mall_offer, "demo1", "demo2", "demo3")
    for order in orders:
        pay(order)
    team = team_of(orders[0])
    assert team.status == Team.Status.COMPLETE

    with django_capture_on_commit_callbacks(execute=True):
        assert team_reminders_run()["formed"] == 3
        assert team_reminders_run()["formed"] == 0  # the job again: nothing new
    assert messages() == [(name, team.team_id, FORMED) for name in ("demo1", "demo2", "demo3")]
    assert InboxMessage.objects.first().params == {"goodsName": orders[0].product_name, "targetCount": 3}


def test_a_team_formed_longer_ago_than_the_look_back_is_no_news(mall_offer, settings):
    orders = a_team(mall_offer, "demo1", "demo2", "demo3")
    for order in orders:
        pay(order)
    later = timezone.now() + timedelta(minutes=settings.REMINDER_LOOKBACK_MINUTES + 20)
    assert team_reminders_run(now=later)["formed"] == 0
    assert not InboxMessage.objects.exists()


# --- failed and refunded ------------------------------------------------------------------------------------


def test_a_failed_team_tells_each_paid_member_the_amount_refunded(
    mall_offer, tasks_run_inline, django_capture_on_commit_callbacks
):
    leader, friend, _slow = a_team(mall_offer, "demo1", "demo2", "demo3")
    pay(leader)
    pay(friend)  # slow never pays: released, no money, no message
    team = team_of(leader)
    age(team, minutes=16)
    trade_timeouts_run()
    assert team_of(leader).status == Team.Status.FAILED
    assert team_reminders_run()["failed"] == 0  # the money is not back yet: nothing to say yet

    deliver_bus_messages(TEAM_REFUND, django_capture_on_commit_callbacks)
    assert RefundRecord.objects.filter(status="SUCCESS").count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert team_reminders_run()["failed"] == 2
        assert team_reminders_run()["failed"] == 0
    assert messages() == [("demo1", team.team_id, FAILED), ("demo2", team.team_id, FAILED)]
    amounts = {m.user.username: m.params["amount"] for m in InboxMessage.objects.all()}
    assert amounts == {"demo1": "80.00", "demo2": "80.00"}
    assert RefundRecord.objects.get(pay_order=leader).amount == Decimal("80.00")


def test_a_shopper_who_left_before_the_deadline_hears_nothing_of_the_failure(
    mall_offer, tasks_run_inline, django_capture_on_commit_callbacks
):
    (leader,) = a_team(mall_offer, "demo1")
    pay(leader)
    order_refund(source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL, out_trade_no=leader.order_id,
                 user_id="demo1")  # fmt: skip
    deliver_bus_messages(TEAM_REFUND, django_capture_on_commit_callbacks)
    assert team_of(leader).status == Team.Status.FAILED  # emptied, closed: but the shopper asked for it
    assert RefundRecord.objects.get().status == "SUCCESS"
    assert team_reminders_run() == {"expiring": 0, "callbacks": 0, "formed": 0, "failed": 0}


# --- about to expire ----------------------------------------------------------------------------------------


def test_members_of_a_team_with_seats_left_hear_once_that_it_is_about_to_expire(mall_offer):
    leader, _joiner = a_team(mall_offer, "demo1", "demo2")
    pay(leader)  # paid or only locked: both are members
    team = team_of(leader)
    assert team_reminders_run(now=shortly_before_the_end(team, minutes=6))["expiring"] == 0  # not yet (5 minutes)

    now = shortly_before_the_end(team, minutes=4)
    assert team_reminders_run(now=now)["expiring"] == 2
    assert team_reminders_run(now=now + timedelta(seconds=15))["expiring"] == 0
    assert messages() == [("demo1", team.team_id, EXPIRING), ("demo2", team.team_id, EXPIRING)]
    params = InboxMessage.objects.first().params
    assert (params["seatsLeft"], params["minutes"]) == (1, 5)
    assert params["validEndTime"].startswith(timezone.localtime(team.valid_end_time).strftime("%Y-%m-%dT%H:%M:%S"))


def test_no_expiry_reminder_for_a_full_team_a_past_deadline_or_an_activity_that_turned_it_off(mall_offer):
    full = team_of(a_team(mall_offer, "demo1", "demo2", "demo3")[0])  # every seat taken, not paid yet
    assert team_reminders_run(now=shortly_before_the_end(full))["expiring"] == 0
    assert team_reminders_run(now=full.valid_end_time + timedelta(seconds=1))["expiring"] == 0

    other = team_of(a_team(mall_offer, "demo4")[0])
    Activity.objects.filter(activity_id=mall_offer.activity_id).update(expiry_reminder_minutes=0)
    assert team_reminders_run(now=shortly_before_the_end(other, minutes=1))["expiring"] == 0
    assert not InboxMessage.objects.exists()


def test_a_team_that_formed_meanwhile_gets_no_expiry_reminder(mall_offer, monkeypatch):
    """Between the job's look and its send, the last member pays: the team re-read under its lock is complete."""
    orders = a_team(mall_offer, "demo1", "demo2")
    pay(orders[0])
    pay(orders[1])
    team = team_of(orders[0])
    look = reminders._expiring_teams

    def look_then_the_team_fills(now):
        due = look(now)
        pay(create_order("demo3", mall_offer.goods_id, team_id=team.team_id))
        return due

    monkeypatch.setattr(reminders, "_expiring_teams", look_then_the_team_fills)
    result = team_reminders_run(now=shortly_before_the_end(team))
    assert team_of(orders[0]).status == Team.Status.COMPLETE
    assert (result["expiring"], result["formed"]) == (0, 3)
    assert {kind for _, _, kind in messages()} == {FORMED}


def test_a_team_that_failed_meanwhile_gets_no_expiry_reminder(mall_offer, monkeypatch):
    (leader,) = a_team(mall_offer, "demo1")
    team = team_of(leader)
    look = reminders._expiring_teams

    def look_then_the_leader_leaves(now):
        due = look(now)
        order_refund(source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL, out_trade_no=leader.order_id)
        return due

    monkeypatch.setattr(reminders, "_expiring_teams", look_then_the_leader_leaves)
    assert team_reminders_run(now=shortly_before_the_end(team))["expiring"] == 0
    assert team_of(leader).status == Team.Status.FAILED
    assert not InboxMessage.objects.exists()


def test_only_this_platforms_shoppers_get_messages(mall_offer, offer):
    """Another channel's users are its mall's (no inbox here, even under a username we know); on the mall's own
    channel, a seat locked by an outside caller (no mall order behind it) names nobody here either."""
    user("xiaofuge")
    user("liergou")
    outside = lock_team(offer, ("xiaofuge", "liergou"))
    on_mall_channel = lock_team(mall_offer, ("xiaofuge",))
    deadline = Team.objects.get(team_id=outside).valid_end_time
    assert team_reminders_run(now=deadline - timedelta(minutes=4))["expiring"] == 0
    assert not InboxMessage.objects.exists()
    assert Team.objects.get(team_id=on_mall_channel).status == Team.Status.IN_PROGRESS


# --- the malls' team_expiring callback --------------------------------------------------------------------------


def test_a_mall_that_opted_in_gets_one_signed_team_expiring_callback(offer):
    offer.credential.team_expiring_callback = True
    offer.credential.save()
    url = "http://127.0.0.1:9/callback"
    team_id = lock_team(offer, ("u1", "u2"), notify_type="HTTP", notify_url=url)
    team = Team.objects.get(team_id=team_id)
    now = shortly_before_the_end(team)
    assert team_reminders_run(now=now)["callbacks"] == 1
    assert team_reminders_run(now=now)["callbacks"] == 0  # at most once per team

    task = NotifyTask.objects.get(notify_category="team_expiring")
    assert (task.notify_type, task.notify_url, task.team_id) == ("HTTP", url, team_id)
    assert task.parameter_json == {
        "type": "team_expiring",
        "source": offer.source,
        "channel": offer.channel,
        "teamId": team_id,
        "activityId": offer.activity_id,
        "targetCount": 3,
        "lockCount": 2,
        "completeCount": 0,
        "validEndTime": task.parameter_json["validEndTime"],
        "outTradeNoList": ["OTN-u1", "OTN-u2"],
    }
    assert task.parameter_json["validEndTime"].startswith(timezone.localtime(team.valid_end_time).strftime("%Y-%m-%dT"))


def test_an_mq_team_of_an_opted_in_mall_is_called_back_on_its_own_routing_key(mall_offer):
    mall_offer.credential.team_expiring_callback = True
    mall_offer.credential.save()
    (leader,) = a_team(mall_offer, "demo1")
    assert team_reminders_run(now=shortly_before_the_end(team_of(leader))) == {
        "expiring": 1, "callbacks": 1, "formed": 0, "failed": 0,
    }  # fmt: skip
    task = NotifyTask.objects.get(notify_category="team_expiring")
    assert (task.notify_type, task.notify_mq) == ("MQ", TEAM_EXPIRING)


def test_without_the_opt_in_no_callback_is_written(offer):
    team_id = lock_team(offer, ("u1",), notify_type="HTTP", notify_url="http://127.0.0.1:9/callback")
    assert team_reminders_run(now=shortly_before_the_end(Team.objects.get(team_id=team_id)))["callbacks"] == 0
    assert not NotifyTask.objects.filter(notify_category="team_expiring").exists()


def test_the_malls_http_receiver_ignores_a_team_expiring_callback(mall_offer, client):
    """A receiver that takes every callback on one URL tells it by its ``type``: the mall's marks nothing done."""
    from apps.payments.tests.test_refunds import _signed_callback

    orders = a_team(mall_offer, "demo1")
    pay(orders[0])
    body = {"type": "team_expiring", "source": mall_offer.source, "channel": mall_offer.channel,
            "teamId": orders[0].team_id, "outTradeNoList": [orders[0].order_id]}  # fmt: skip
    answer = client.post("/api/v1/alipay/group_buy_notify", **_signed_callback(body, "t-exp", mall_offer.secret))
    assert (answer.status_code, answer.content) == (200, b"success")
    assert PayOrder.objects.get(pk=orders[0].pk).status == PayOrder.Status.PAY_SUCCESS


# --- e-mail, the task -------------------------------------------------------------------------------------------


def test_shoppers_with_an_address_also_get_an_email_once(mall_offer, mailoutbox, django_capture_on_commit_callbacks):
    with_mail = user("demo1")
    with_mail.email = "demo1@example.com"
    with_mail.save()
    leader, _ = a_team(mall_offer, "demo1", "demo2")  # demo2 has no address
    now = shortly_before_the_end(team_of(leader))
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):  # a worker's language
        assert team_reminders_run(now=now)["expiring"] == 2
    with django_capture_on_commit_callbacks(execute=True):
        team_reminders_run(now=now)
    (mail,) = mailoutbox
    assert mail.to == ["demo1@example.com"]
    with translation.override(settings.LANGUAGE_CODE):  # the site's language (zh-hans), whatever is active
        expected = message_text(kind=EXPIRING, params=InboxMessage.objects.get(user__username="demo1").params)
    assert (mail.subject, mail.body.splitlines()[0]) == (expected.title, expected.body)
    assert leader.product_name in mail.body


def test_the_beat_task_runs_the_job_and_skips_while_another_instance_holds_its_lock(mall_offer):
    assert settings.CELERY_BEAT_SCHEDULE["send-team-reminders"]["task"] == send_team_reminders.name
    orders = a_team(mall_offer, "demo1", "demo2", "demo3")
    for order in orders:
        pay(order)
    with single_instance("send_team_reminders", ttl_seconds=30) as acquired:
        assert acquired
        assert send_team_reminders.apply().get() == {}
    assert not InboxMessage.objects.exists()
    assert send_team_reminders.apply().get()["formed"] == 3


def test_an_idle_run_costs_four_reads(mall_offer, django_assert_num_queries):
    """Every 15 s: the widest reminder window, then teams about to expire, formed teams, refunds of failed teams."""
    a_team(mall_offer, "demo1")  # a team far from its deadline: nothing due
    with django_assert_num_queries(4):
        assert team_reminders_run() == {"expiring": 0, "callbacks": 0, "formed": 0, "failed": 0}
    Activity.objects.update(expiry_reminder_minutes=0)
    with django_assert_num_queries(3):  # no activity reminds: no look at teams about to expire
        team_reminders_run()


# --- the gates' purge ---------------------------------------------------------------------------------------


def test_the_hourly_purge_drops_only_gates_no_reminder_can_consult_again(mall_offer, settings):
    from apps.notifications.models import TeamReminder
    from apps.payments.tasks import purge_team_reminders

    formed = a_team(mall_offer, "demo1", "demo2", "demo3")
    for order in formed:
        pay(order)
    expiring = a_team(mall_offer, "demo4")
    team_reminders_run(now=shortly_before_the_end(team_of(expiring[0])))
    old_formed, recent = team_of(formed[0]), team_of(expiring[0])
    TeamReminder.objects.create(team_id="00000000", kind=FORMED)  # a team since deleted
    assert set(TeamReminder.objects.values_list("team_id", "kind")) == {
        (old_formed.team_id, FORMED), (recent.team_id, EXPIRING), ("00000000", FORMED),
    }  # fmt: skip
    age(old_formed, settings.REMINDER_LOOKBACK_MINUTES + 30)  # its deadline passed before the look-back

    assert purge_team_reminders() == 2
    assert purge_team_reminders() == 0  # idempotent
    assert list(TeamReminder.objects.values_list("team_id", "kind")) == [(recent.team_id, EXPIRING)]
    # Without its gate the old team is still no news, and the recent one is not announced twice.
    assert team_reminders_run(now=shortly_before_the_end(team_of(expiring[0]))) == {
        "expiring": 0, "callbacks": 0, "formed": 0, "failed": 0,
    }  # fmt: skip
