"""Settle (结算): record that a locked order was paid, read top-down from ``order_settle`` to the answer.

    channel not blacklisted → one transaction: the order paid if it is this user's and locked, its team counted if
    still in progress, paid in time and with an unpaid seat, then the order and its team read back
    → (nothing written? the reason, in the order the checks were always made: order unknown or refunded E0104,
    another user's 0002, already paid: the same answer, paid late E0106, team no longer in progress E0104)
    → the payment that filled the team completes it, in the same transaction

The payment that fills the team completes it (``team_complete``, also used by the timeouts' auto-form) and writes
the ``trade_settlement`` notify task (domain.md section 5). Settling a paid order again answers the same success
and changes nothing: malls retry. The guards are the writes' own WHERE, so the read comes after them (on MariaDB
the writes and the read are one round trip with the transaction's BEGIN: decision 023) and sees the team's count
as this payment left it, under its row lock: no stale count can complete a team twice or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from typing import Any

from django.db import connection
from django.db.models import Field
from django.utils import timezone
from django.utils.translation import gettext

from apps.common.db_routing import primary_reads
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.rows import (
    Statement,
    Written,
    model_field,
    prepared,
    quoted_column,
    rows_write_in_transaction,
    rows_write_together,
    update_statement,
    where_query,
)
from apps.dcc.runtime import dcc_get
from apps.notifications.models import NotifyTask
from apps.trade.callbacks import team_notify
from apps.trade.metrics import SETTLEMENTS, TEAMS_COMPLETED, counted
from apps.trade.models import Order, Team
from apps.trade.selectors import SettleOrder, SettleTeam, settle_order_of, settle_order_query


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
    outcome: list[tuple[SettleResult, str]] = []

    def settled_or_why_not(written: Written) -> None:
        paid, counted = written.counts
        order = settle_order_of(written.rows)
        _check_live_order(command, order)
        assert order is not None  # for the type checker: _check_live_order refused a missing one
        if not paid:
            if order.status != Order.Status.PAID:
                raise GroupBuyError(ResponseCode.UPDATE_ZERO, gettext("the order changed meanwhile, please retry"))
            outcome.append((SettleResult.of(order), "replay"))  # paid before: the same answer, nothing written
            return
        if not counted:  # the order's payment is rolled back with the error
            _check_paid_in_time(command, order.team)
            _check_team_in_progress(order.team)
            raise GroupBuyError(ResponseCode.UPDATE_ZERO, gettext("the team changed meanwhile, please retry"))
        if order.team.complete_count == order.team.target_count:
            team_complete(order.team)
        outcome.append((SettleResult.of(order), "settled"))

    now = timezone.now()
    scope = {"source": command.source, "channel": command.channel, "out_trade_no": command.out_trade_no}
    rows_write_together(
        update_statement(
            Order,
            where={**scope, "user_id": command.user_id, "status": Order.Status.LOCKED},
            status=Order.Status.PAID,
            out_trade_time=command.out_trade_time,
            update_time=now,
        ),
        _seat_counted(command, now),
        read=settle_order_query(**scope),
        then=settled_or_why_not,
    )
    return outcome[-1]


# --- why nothing was written, in the order the checks were always made ------------------------------------


def _check_channel_allowed(command: SettleCommand) -> None:
    if f"{command.source}{command.channel}" in dcc_get("scBlacklist"):
        raise GroupBuyError(ResponseCode.E0105)


def _check_live_order(command: SettleCommand, order: SettleOrder | None) -> None:
    """The channel's order of this outTradeNo exists, is not refunded, and is this user's."""
    if order is None or order.status == Order.Status.REFUNDED:
        raise GroupBuyError(ResponseCode.E0104)
    if order.user_id != command.user_id:
        raise GroupBuyError(
            ResponseCode.ILLEGAL_PARAMETER,
            gettext("outTradeNo belongs to another user's order"),
            data={"outTradeNo": [gettext("belongs to another user")]},
        )


def _check_paid_in_time(command: SettleCommand, team: SettleTeam) -> None:
    if command.out_trade_time > team.valid_end_time:
        raise GroupBuyError(ResponseCode.E0106)


def _check_team_in_progress(team: SettleTeam) -> None:
    if team.status != Team.Status.IN_PROGRESS:
        raise GroupBuyError(ResponseCode.E0104, gettext("the team is no longer in progress"))


# --- the team's count ---------------------------------------------------------------------------------


def _seat_counted(command: SettleCommand, now: datetime) -> Statement:
    """The paid order's team counts one more paid seat, if it is in progress, the payment came in time, and a locked
    seat is unpaid; only after the order's own UPDATE matched (``only_if_previous_matched``)."""
    sql, update_time, valid_end_time = _seat_counted_sql()
    params = [prepared(update_time, now), command.source, command.channel, command.out_trade_no,
              int(Team.Status.IN_PROGRESS), prepared(valid_end_time, command.out_trade_time)]  # fmt: skip
    return Statement(sql, params, only_if_previous_matched=True)


@lru_cache(maxsize=1)
def _seat_counted_sql() -> tuple[str, Field, Field]:
    quote = connection.ops.quote_name
    t = {name: quoted_column(model_field(Team, name)) for name in
         ("team_id", "complete_count", "lock_count", "status", "valid_end_time", "update_time")}  # fmt: skip
    o = {name: quoted_column(model_field(Order, name)) for name in ("team", "source", "channel", "out_trade_no")}
    sql = (
        f"UPDATE {quote(Team._meta.db_table)} SET {t['complete_count']} = {t['complete_count']} + 1, "  # noqa: S608
        f"{t['update_time']} = %s WHERE {t['team_id']} = (SELECT {o['team']} FROM {quote(Order._meta.db_table)} "
        f"WHERE {o['source']} = %s AND {o['channel']} = %s AND {o['out_trade_no']} = %s) "
        f"AND {t['status']} = %s AND {t['complete_count']} < {t['lock_count']} AND {t['valid_end_time']} >= %s"
    )
    return sql, model_field(Team, "update_time"), model_field(Team, "valid_end_time")


def team_complete(team: Team | SettleTeam, *, virtual_count: int = 0) -> None:
    """Inside the caller's transaction, with the team row current and locked: the team is complete, and its one
    ``trade_settlement`` callback names its paid orders (settlement at the target, or auto-form at expiry).

    ``virtual_count``: the empty seats an auto-form threshold fills at the deadline (``apps.trade.timeouts``);
    they are no shopper's, so the callback never lists them. Every callback carries the team's ``source`` and
    ``channel``: consumers match orders by them too, never by ``outTradeNo`` alone (api.md "Channel isolation").
    """
    now = timezone.now()
    virtual: dict[str, Any] = {"virtual_count": virtual_count} if virtual_count else {}  # settlement's stays
    paid = rows_write_in_transaction(  # one round trip on MariaDB
        update_statement(Team, where={"pk": team.pk}, status=Team.Status.COMPLETE, formed_at=now, update_time=now,
                         **virtual),
        read=where_query(Order, ("out_trade_time", "id", "out_trade_no"), team=team.team_id, status=Order.Status.PAID),
    ).rows  # fmt: skip
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
