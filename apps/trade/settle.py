"""Settle (结算): record that a locked order was paid, read top-down from ``order_settle`` to the write.

    channel not blacklisted → order known and live → (already paid? the same answer) → paid in time
    → team still in progress → one transaction: order paid, team counted (and completed at its target)

The payment that fills the team completes it (``team_complete``, also used by the timeouts' auto-form)
and writes the ``trade_settlement`` notify task (domain.md section 5). Settling a paid order again
answers the same success and changes nothing: malls retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from apps.common.db_routing import primary_reads
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.rows import Statement, rows_execute, rows_update, rows_write_together, update_statement, values_where
from apps.dcc.runtime import dcc_get
from apps.notifications.models import NotifyTask
from apps.trade.callbacks import team_notify
from apps.trade.metrics import SETTLEMENTS, TEAMS_COMPLETED, counted
from apps.trade.models import Order, Team
from apps.trade.selectors import SettleOrder, SettleTeam, settle_order


@dataclass(frozen=True)
class SettleCommand:
    user_id: str
    source: str
    channel: str
    out_trade_no: str
    out_trade_time: datetime


@dataclass(frozen=True)
class SettleResult:
    user_id: str
    team_id: str
    activity_id: int
    out_trade_no: str

    @classmethod
    def of(cls, order: SettleOrder) -> SettleResult:
        return cls(order.user_id, order.team.team_id, order.activity_id, order.out_trade_no)


@primary_reads()  # its reads never come from a replica (apps/common/db_routing.py)
def order_settle(*, command: SettleCommand) -> SettleResult:
    """Record the payment of a locked order; the payment that fills the team completes it.

    One transaction: order 0→1 (only from 0), ``complete_count + 1`` guarded by
    ``complete_count < lock_count`` and ``< target_count``; at the target the team turns complete
    and one ``trade_settlement`` notify task is written. A repeated or racing settlement of the same
    order changes nothing and answers the same success.
    """
    return counted(SETTLEMENTS, partial(_settle, command))


def _settle(command: SettleCommand) -> tuple[SettleResult, str]:
    _check_channel_allowed(command)
    order = _live_order(command)
    if order.status == Order.Status.PAID:
        return SettleResult.of(order), "replay"
    _check_paid_in_time(command, order.team)
    _check_team_in_progress(order.team)
    settled = _write(command, order)
    return SettleResult.of(order), "settled" if settled else "replay"


# --- the checks, in order ---------------------------------------------------------------------------


def _check_channel_allowed(command: SettleCommand) -> None:
    if f"{command.source}{command.channel}" in dcc_get("scBlacklist"):
        raise GroupBuyError(ResponseCode.E0105)


def _live_order(command: SettleCommand) -> SettleOrder:
    """The channel's order of this outTradeNo, with its team: it exists, is not refunded, and is this user's."""
    order = settle_order(source=command.source, channel=command.channel, out_trade_no=command.out_trade_no)
    if order is None or order.status == Order.Status.REFUNDED:
        raise GroupBuyError(ResponseCode.E0104)
    if order.user_id != command.user_id:
        raise GroupBuyError(
            ResponseCode.ILLEGAL_PARAMETER,
            gettext("outTradeNo belongs to another user's order"),
            data={"outTradeNo": [gettext("belongs to another user")]},
        )
    return order


def _check_paid_in_time(command: SettleCommand, team: SettleTeam) -> None:
    if command.out_trade_time > team.valid_end_time:
        raise GroupBuyError(ResponseCode.E0106)


def _check_team_in_progress(team: SettleTeam) -> None:
    if team.status != Team.Status.IN_PROGRESS:
        raise GroupBuyError(ResponseCode.E0104, gettext("the team is no longer in progress"))


# --- the write ----------------------------------------------------------------------------------------


def _write(command: SettleCommand, order: SettleOrder) -> bool:
    """False when a concurrent settlement of the same order got there first.

    Plain SQL (``apps.common.rows``): the order's guarded UPDATE, then the team's, which runs only if the order's
    matched (one round trip on MariaDB, with the transaction's BEGIN). The team's seat count goes up under
    ``complete_count < lock_count`` and, so that no read-back is needed, under a bound that says whether this
    payment fills the team (``target_count`` never changes): the read's count picks which bound to try first, the
    other follows when a concurrent payment moved the count meanwhile.
    """
    now = timezone.now()
    team = order.team
    last_seat = team.target_count - 1  # the count before the payment that fills the team
    guard = {"pk": team.pk, "status": Team.Status.IN_PROGRESS, "complete_count__lt": F("lock_count")}

    def seat_counted(fills: bool, *, after_payment: bool) -> Statement:
        bound = {"complete_count__gte": last_seat} if fills else {"complete_count__lte": last_seat - 1}
        return update_statement(Team, where={**guard, **bound}, only_if_previous_matched=after_payment,
                                complete_count=F("complete_count") + 1, update_time=now)  # fmt: skip

    fills_first = team.complete_count >= last_seat
    settled: list[bool] = []

    def count_the_seat(counts: list[int]) -> None:
        paid, counted = counts
        if not paid:
            (current,) = values_where(Order, ("status",), pk=order.pk)
            if current[0] != Order.Status.PAID:
                raise GroupBuyError(ResponseCode.E0104)  # refunded meanwhile
            settled.append(False)  # a concurrent settlement of the same order got there first
            return
        fills = fills_first
        if not counted:
            fills = not fills_first
            sql, params, _ = seat_counted(fills, after_payment=False)
            counted = rows_execute(sql, params)
        if not counted:
            raise GroupBuyError(ResponseCode.UPDATE_ZERO, gettext("the team changed meanwhile, please retry"))
        if fills:
            team_complete(team)
        settled.append(True)

    rows_write_together(
        update_statement(
            Order,
            where={"pk": order.pk, "status": Order.Status.LOCKED},
            status=Order.Status.PAID,
            out_trade_time=command.out_trade_time,
            update_time=now,
        ),
        seat_counted(fills_first, after_payment=True),
        then=count_the_seat,
    )
    return settled[-1]


def team_complete(team: Team | SettleTeam, *, virtual_count: int = 0) -> None:
    """Inside the caller's transaction, with the team row current and locked: the team is complete, and its one
    ``trade_settlement`` callback names its paid orders (settlement at the target, or auto-form at expiry).

    ``virtual_count``: the empty seats an auto-form threshold fills at the deadline (``apps.trade.timeouts``);
    they are no shopper's, so the callback never lists them. Every callback carries the team's ``source`` and
    ``channel``: consumers match orders by them too, never by ``outTradeNo`` alone (api.md "Channel isolation").
    """
    now = timezone.now()
    virtual = {"virtual_count": virtual_count} if virtual_count else {}  # settlement's UPDATE stays as it was
    rows_update(Team, where={"pk": team.pk}, status=Team.Status.COMPLETE, formed_at=now, update_time=now, **virtual)
    paid = values_where(Order, ("out_trade_time", "id", "out_trade_no"), team=team.team_id, status=Order.Status.PAID)
    # Payment order, as the reference lists them (a paid order without a time, from before that rule, first).
    paid.sort(key=lambda row: (row[0] is not None, row[0] or 0, row[1]))
    team_notify(
        team,
        category=NotifyTask.Category.TRADE_SETTLEMENT,
        payload={
            "source": team.source,
            "channel": team.channel,
            "teamId": team.team_id,
            "outTradeNoList": [out_trade_no for _, _, out_trade_no in paid],
        },
    )
    TEAMS_COMPLETED.inc()
