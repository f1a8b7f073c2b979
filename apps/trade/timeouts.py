"""Timeouts (domain.md section 7), run by Celery beat under a Redis lock (one instance at a time).

1. Unpaid locks past their payment deadline — the team's valid end time, or DCC
   ``lockTimeoutMinutes`` after locking if sooner — are refunded as ``unpaid_unlock`` (the bus
   message closes the built-in mall's order and recovers the seat).
2. Teams past their valid end time still in progress: ``group_type 0`` (auto-form) forms when its paid
   seats reach the activity's threshold (``auto_form_reached``: at least one, and at least
   ``auto_form_percent`` % of the target; 0 % means "whoever paid"), its empty seats filled as virtual
   seats (``Team.virtual_count``: never a shopper, never in a callback, reported apart); below the
   threshold, and always for ``group_type 1`` (target required), it fails and every paid member is
   refunded (``paid_unformed``: the money goes back). docs/decisions/013-auto-form-threshold-and-auto-join.md.

A payment arriving after its order was released is refused by settlement (E0104/E0106) and the
mall refunds it; a payment settled just before the job looks is simply not unpaid any more.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.activities.models import Activity
from apps.common.errors import GroupBuyError
from apps.dcc.runtime import dcc_get
from apps.trade.limits import formation_slot_release
from apps.trade.metrics import TEAMS_FAILED
from apps.trade.models import Order, Team
from apps.trade.refund import order_refund
from apps.trade.settle import team_complete

logger = logging.getLogger(__name__)


def unpaid_locks_expired(*, now: datetime | None = None) -> list[Order]:
    now = now or timezone.now()
    deadline = now - timedelta(minutes=dcc_get("lockTimeoutMinutes"))
    return list(
        Order.objects.filter(status=Order.Status.LOCKED)
        .filter(Q(team__valid_end_time__lte=now) | Q(create_time__lte=deadline))
        .order_by("id")
    )


def trade_release_unpaid_locks(*, now: datetime | None = None) -> int:
    released = 0
    for order in unpaid_locks_expired(now=now):
        try:
            outcome = order_refund(source=order.source, channel=order.channel, out_trade_no=order.out_trade_no)
        except GroupBuyError as exc:  # settled or refunded meanwhile: nothing to release
            logger.info("timeout: order %s not released: %s", order.order_id, exc)
            continue
        released += not outcome.repeat
    return released


def trade_close_expired_teams(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    closed = {"completed": 0, "failed": 0, "refunded": 0}
    for team_pk in Team.objects.filter(status=Team.Status.IN_PROGRESS, valid_end_time__lte=now).values_list(
        "pk", flat=True
    ):
        outcome = _close_team(team_pk)
        if outcome:
            closed[outcome] += 1
        if outcome == "failed":
            closed["refunded"] += _refund_paid_members(team_pk)
    return closed


def auto_form_reached(*, complete_count: int, target_count: int, percent: int) -> bool:
    """An auto-form team forms at its deadline: at least one paid seat, and ``complete_count / target_count``
    at least ``percent`` % (integers, no rounding: 2 of 3 seats is 66.6 %, below a 67 % threshold)."""
    return complete_count >= 1 and complete_count * 100 >= percent * target_count


def _close_team(team_pk: int) -> str | None:
    with transaction.atomic():
        team = Team.objects.select_for_update().select_related("activity").get(pk=team_pk)
        if team.status != Team.Status.IN_PROGRESS:
            return None
        activity = team.activity
        if activity.group_type == Activity.GroupType.AUTO_FORM and auto_form_reached(
            complete_count=team.complete_count, target_count=team.target_count, percent=activity.auto_form_percent
        ):
            # The seats nobody paid for are the platform's; lock_count stays the shoppers' own.
            team_complete(team, virtual_count=team.target_count - team.complete_count)
            return "completed"
        team.status = Team.Status.FAILED
        team.save(update_fields=["status", "update_time"])
        formation_slot_release(activity_id=team.activity_id)  # it never formed: its slot goes back
        TEAMS_FAILED.inc()
        return "failed"


def _refund_paid_members(team_pk: int) -> int:
    refunded = 0
    for order in Order.objects.filter(team__pk=team_pk, status=Order.Status.PAID):
        outcome = order_refund(source=order.source, channel=order.channel, out_trade_no=order.out_trade_no)
        refunded += not outcome.repeat
    return refunded


def trade_timeouts_run(*, now: datetime | None = None) -> dict[str, int]:
    """Both sweeps, locks first (so a failing team's unpaid seats are already released), at one instant: a team that
    expires while the first sweep runs is closed by the next run, after its unpaid seats were released."""
    now = now or timezone.now()
    released = trade_release_unpaid_locks(now=now)
    return {"released": released, **trade_close_expired_teams(now=now)}
