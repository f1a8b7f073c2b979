"""Settle (结算): record that a locked order was paid, as a chain of small links.

    channel not blacklisted → order known and live → (already paid? same answer) → paid in time
    → team still in progress

Then ``apps.trade.services.order_settle`` writes it in one transaction; the payment that fills
the team completes it and writes the ``trade_settlement`` notify task (domain.md section 5).
Settling a paid order again answers the same success and changes nothing: malls retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext

from apps.common.chain import Chain, Link, Stop
from apps.common.errors import GroupBuyError, ResponseCode
from apps.dcc.runtime import dcc_get
from apps.trade.models import Order, Team


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
    def of(cls, order: Order) -> SettleResult:
        return cls(order.user_id, order.team_id, order.activity_id, order.out_trade_no)


@dataclass
class SettleContext:
    order: Order | None = None
    team: Team | None = None


class ChannelNotBlacklisted(Link[SettleCommand, SettleContext]):
    name = "channel_not_blacklisted"

    def handle(self, command: SettleCommand, ctx: SettleContext) -> None:
        if f"{command.source}{command.channel}" in dcc_get("scBlacklist"):
            raise GroupBuyError(ResponseCode.E0105)


class OrderLive(Link[SettleCommand, SettleContext]):
    """The order exists for this user; a paid one answers again as it did (idempotent)."""

    name = "order_live"

    def handle(self, command: SettleCommand, ctx: SettleContext) -> Stop | None:
        order = (
            Order.objects.select_related("team")
            .filter(source=command.source, channel=command.channel, out_trade_no=command.out_trade_no)
            .first()
        )
        if order is None or order.status == Order.Status.REFUNDED:
            raise GroupBuyError(ResponseCode.E0104)
        if order.user_id != command.user_id:
            raise GroupBuyError(
                ResponseCode.ILLEGAL_PARAMETER,
                gettext("outTradeNo belongs to another user's order"),
                data={"outTradeNo": [gettext("belongs to another user")]},
            )
        if order.status == Order.Status.PAID:
            return Stop(SettleResult.of(order))
        ctx.order, ctx.team = order, order.team
        return None


class PaidInTime(Link[SettleCommand, SettleContext]):
    name = "paid_in_time"

    def handle(self, command: SettleCommand, ctx: SettleContext) -> None:
        if command.out_trade_time > ctx.team.valid_end_time:
            raise GroupBuyError(ResponseCode.E0106)


class TeamInProgress(Link[SettleCommand, SettleContext]):
    name = "team_in_progress"

    def handle(self, command: SettleCommand, ctx: SettleContext) -> None:
        if ctx.team.status != Team.Status.IN_PROGRESS:
            raise GroupBuyError(ResponseCode.E0104, gettext("the team is no longer in progress"))


settle_chain: Chain[SettleCommand, SettleContext] = Chain(
    "settle", [ChannelNotBlacklisted(), OrderLive(), PaidInTime(), TeamInProgress()]
)
