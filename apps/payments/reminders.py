"""Reminders to the mall's shoppers, and the malls' opt-in ``team_expiring`` callback: one job looks at the teams
and says what changed, at most once each (Celery beat every 15 s under a Redis lock:
``apps.payments.tasks.send_team_reminders``; the embedded beat of ``make run`` runs it too).

* ``team_formed``: a team of the mall's channel completed (its last seat paid, or auto-formed at its deadline).
  To its paying members. Gate: the team and kind.
* ``team_failed``: a member of a failed team got the money back (the gateway's refund succeeded after the team's
  deadline). To that member, with the amount the gateway gave back. Gate: the user, team and kind.
* ``team_expiring``: a team in progress with seats left is within its activity's ``expiry_reminder_minutes``
  (0: off) of its deadline. To its members (locked or paid), and a signed ``team_expiring`` callback to the team's
  mall when its channel opted in (``ChannelCredential.team_expiring_callback``). Gate: the team and kind.

Each reminder is one transaction that reads the team again and sends nothing when its state is no longer the one
announced (a team that formed or failed meanwhile gets no "about to expire"; the expiring check holds the team's
row lock, so a settlement waits for it rather than slipping in between). The gates are unique keys: a
``TeamReminder`` row per (team, kind), and the inbox's (user, team, kind) (``apps.notifications.inbox``). Two
jobs at once (the Redis lock expired, a second beat) announce a team once: the second insert of a gate waits for
the first transaction and then fails on the key.

Recipients are users of this platform only: the mall's own orders (``pay_order``, whose ``order_id`` is the
trade order's ``outTradeNo``) name them. Users of external malls (another channel, or an ``outTradeNo`` that is no
mall order) have no inbox here; their mall gets the callback. Events older than ``REMINDER_LOOKBACK_MINUTES``
are not news any more and are not announced (nor are teams that formed before this job existed).

Why a job and not hooks in settle/refund: those are hot paths pinned by query counts, a reminder may wait
seconds, and the expiring one needs a clock anyway (docs/decisions/012-reminders-from-one-job.md).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Max, OuterRef
from django.utils import timezone

from apps.activities.models import Activity
from apps.channels.models import ChannelCredential
from apps.common.money import format_money
from apps.common.serializers import format_datetime
from apps.notifications.inbox import reminder_send
from apps.notifications.models import InboxMessage, TeamReminder
from apps.payments.models import PayOrder, RefundRecord
from apps.trade.callbacks import team_expiring_notify
from apps.trade.models import LIVE_ORDER_STATUSES, Order, Team

logger = logging.getLogger(__name__)

Kind = InboxMessage.Kind
FORMED_STATUSES = (Team.Status.COMPLETE, Team.Status.COMPLETE_WITH_REFUND)
PURGE_BATCH_SIZE = 1000


def team_reminders_run(*, now: datetime | None = None) -> dict[str, int]:
    """Every reminder due now; answers how many messages of each kind were sent (and callbacks written)."""
    now = now or timezone.now()
    expiring, callbacks = reminders_expiring_send(now=now)
    return {
        "expiring": expiring,
        "callbacks": callbacks,
        "formed": reminders_formed_send(now=now),
        "failed": reminders_failed_send(now=now),
    }


def _since(now: datetime) -> datetime:
    return now - timedelta(minutes=settings.REMINDER_LOOKBACK_MINUTES)


def team_reminders_purge(*, now: datetime | None = None, batch_size: int = PURGE_BATCH_SIZE) -> int:
    """Delete the gates no reminder can consult again; answers how many.

    A gate decides only for a team whose deadline is ahead (about to expire) or within the look-back (formed), so a
    team whose deadline passed more than ``REMINDER_LOOKBACK_MINUTES`` ago, or that no longer exists, needs none.
    Batches keep each DELETE short; the job is idempotent (beat, hourly: ``apps.payments.tasks``).
    """
    live = Team.objects.filter(team_id=OuterRef("team_id"), valid_end_time__gte=_since(now or timezone.now()))
    stale = TeamReminder.objects.exclude(Exists(live))
    deleted = 0
    while ids := list(stale.order_by("pk").values_list("pk", flat=True)[:batch_size]):
        deleted += TeamReminder.objects.filter(pk__in=ids).delete()[0]
    return deleted


def _gate(team_id: str, kind: str) -> bool:
    """Claim the announcement of ``kind`` for team ``team_id`` in the caller's transaction; False when it was
    made already (or is being made by a concurrent transaction that then commits)."""
    try:
        with transaction.atomic():
            TeamReminder.objects.create(team_id=team_id, kind=kind)
    except IntegrityError:
        return False
    return True


def _is_mall_team(team: Team) -> bool:
    return (team.source, team.channel) == (settings.MALL_SOURCE, settings.MALL_CHANNEL)


def _members(team: Team, *, statuses: tuple[int, ...]) -> list[PayOrder]:
    """The mall orders (with their users) behind the team's trade orders in ``statuses``, in seat order.

    A trade order names its user by ``userId``, which for the mall is the username: kept only where the mall
    order's user is that user (an ``outTradeNo`` that is no order of ours names nobody here)."""
    if not _is_mall_team(team):
        return []
    seats = dict(
        Order.objects.filter(team_id=team.team_id, status__in=statuses)
        .order_by("id")
        .values_list("out_trade_no", "user_id")
    )
    orders = PayOrder.objects.filter(order_id__in=list(seats)).select_related("user").order_by("order_time", "id")
    return [order for order in orders if order.user.get_username() == seats[order.order_id]]


# --- about to expire ----------------------------------------------------------------------------------------


def _expiring_teams(now: datetime) -> list[tuple[int, int]]:
    """Teams in progress with seats left whose deadline is within their activity's reminder minutes, not yet
    announced. Two reads: the widest window, then the teams inside it (index on status, valid_end_time)."""
    widest = Activity.objects.aggregate(widest=Max("expiry_reminder_minutes"))["widest"] or 0
    if widest <= 0:
        return []
    announced = TeamReminder.objects.filter(kind=Kind.TEAM_EXPIRING).values("team_id")
    candidates = (
        Team.objects.filter(
            status=Team.Status.IN_PROGRESS,
            valid_end_time__gt=now,
            valid_end_time__lte=now + timedelta(minutes=widest),
            lock_count__lt=F("target_count"),
            activity__expiry_reminder_minutes__gt=0,
        )
        .exclude(team_id__in=announced)
        .values_list("pk", "valid_end_time", "activity__expiry_reminder_minutes")
        .order_by("valid_end_time")
    )
    return [(pk, minutes) for pk, end, minutes in candidates if end - timedelta(minutes=minutes) <= now]


def reminders_expiring_send(*, now: datetime) -> tuple[int, int]:
    """Remind the members of teams about to expire (and call their malls that opted in); answers (messages,
    callbacks)."""
    due = _expiring_teams(now)
    if not due:
        return 0, 0
    opted_in = set(ChannelCredential.objects.filter(team_expiring_callback=True).values_list("source", "channel"))
    messages = callbacks = 0
    for team_pk, minutes in due:
        sent, called = _team_expiring(team_pk, minutes=minutes, now=now, opted_in=opted_in)
        messages += sent
        callbacks += called
    return messages, callbacks


def _team_expiring(team_pk: int, *, minutes: int, now: datetime, opted_in: set[tuple[str, str]]) -> tuple[int, int]:
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=team_pk)  # a settlement of its last seat waits for us
        still_due = (
            team.status == Team.Status.IN_PROGRESS and team.lock_count < team.target_count and team.valid_end_time > now
        )
        if not still_due or not _gate(team.team_id, Kind.TEAM_EXPIRING):
            return 0, 0
        called = 0
        if (team.source, team.channel) in opted_in:
            live = Order.objects.filter(team_id=team.team_id, status__in=LIVE_ORDER_STATUSES).order_by("id")
            called = (
                team_expiring_notify(team, out_trade_nos=list(live.values_list("out_trade_no", flat=True))) is not None
            )
        sent = 0
        for order in _members(team, statuses=LIVE_ORDER_STATUSES):
            params = {
                "goodsName": order.product_name,
                "seatsLeft": team.target_count - team.lock_count,
                "validEndTime": format_datetime(team.valid_end_time),
                "minutes": minutes,
            }
            sent += (
                reminder_send(user=order.user, kind=Kind.TEAM_EXPIRING, team_id=team.team_id, params=params) is not None
            )
        return sent, int(called)


# --- formed -------------------------------------------------------------------------------------------------


def _formed_teams(now: datetime) -> list[int]:
    """The mall channel's teams formed within the look-back, not yet announced. A team forms before its deadline
    or at the sweep just after it, so ``valid_end_time`` bounds the scan on the (status, valid_end_time) index."""
    since = _since(now)
    announced = TeamReminder.objects.filter(kind=Kind.TEAM_FORMED).values("team_id")
    return list(
        Team.objects.filter(
            source=settings.MALL_SOURCE,
            channel=settings.MALL_CHANNEL,
            status__in=FORMED_STATUSES,
            valid_end_time__gte=since,
            formed_at__gte=since,
        )
        .exclude(team_id__in=announced)
        .order_by("formed_at")
        .values_list("pk", flat=True)
    )


def reminders_formed_send(*, now: datetime) -> int:
    return sum(_team_formed(team_pk) for team_pk in _formed_teams(now))


def _team_formed(team_pk: int) -> int:
    with transaction.atomic():
        team = Team.objects.get(pk=team_pk)
        if team.status not in FORMED_STATUSES or not _gate(team.team_id, Kind.TEAM_FORMED):
            return 0
        sent = 0
        for order in _members(team, statuses=(Order.Status.PAID,)):
            params = {"goodsName": order.product_name, "targetCount": team.target_count}
            sent += (
                reminder_send(user=order.user, kind=Kind.TEAM_FORMED, team_id=team.team_id, params=params) is not None
            )
        return sent


# --- failed and refunded ------------------------------------------------------------------------------------


def _refunds_of_failed_teams(now: datetime) -> list[int]:
    """Refunds of group-buy mall orders, made within the look-back after their team failed at its deadline, whose
    user has no "failed" message about that team yet."""
    told = InboxMessage.objects.filter(
        user_id=OuterRef("pay_order__user_id"), team_id=OuterRef("pay_order__team_id"), kind=Kind.TEAM_FAILED
    )
    failed_before = Team.objects.filter(
        team_id=OuterRef("pay_order__team_id"), status=Team.Status.FAILED, valid_end_time__lte=OuterRef("create_time")
    )
    return list(
        RefundRecord.objects.filter(
            status=RefundRecord.Status.SUCCESS,
            refunded_at__gte=_since(now),
            pay_order__market_type=PayOrder.MarketType.GROUP_BUY,
        )
        .exclude(pay_order__team_id="")
        .filter(Exists(failed_before), ~Exists(told))
        .order_by("refunded_at")
        .values_list("pk", flat=True)
    )


def reminders_failed_send(*, now: datetime) -> int:
    return sum(_refund_of_failed_team(record_pk) for record_pk in _refunds_of_failed_teams(now))


def _refund_of_failed_team(record_pk: int) -> int:
    """The refund's user hears that the team failed, with the amount refunded, when the team did fail and the
    money went back because of it: refunded after the team's deadline (a shopper who left a team earlier and got
    the money back is told nothing: they asked for it)."""
    with transaction.atomic():
        record = RefundRecord.objects.select_related("pay_order__user").get(pk=record_pk)
        order = record.pay_order
        team = Team.objects.filter(team_id=order.team_id).first()
        if team is None or not _is_mall_team(team) or team.status != Team.Status.FAILED:
            return 0
        if record.create_time < team.valid_end_time:
            return 0
        params = {"goodsName": order.product_name, "amount": format_money(record.amount)}
        return reminder_send(user=order.user, kind=Kind.TEAM_FAILED, team_id=team.team_id, params=params) is not None
