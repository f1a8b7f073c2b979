"""Lock order (锁单): the checks before a seat is taken, as a chain of small links.

    idempotent replay → callback target allowed → team joinable → trial allows → activity open → take limit

Then ``apps.trade.services.order_lock`` occupies a Redis seat (joins only) and writes the team
and the order in one transaction. Each link rejects with the spec's code (domain.md section 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.notify_targets import notify_url_refusal
from apps.accounts.selectors import channel_credential_get
from apps.activities.trial import TrialRequest, TrialResult, trial_calculate
from apps.common.chain import Chain, Link, Stop
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.rows import row_where, values_where
from apps.trade.models import LIVE_ORDER_STATUSES, NotifyType, Order, Team


@dataclass(frozen=True)
class LockCommand:
    user_id: str
    source: str
    channel: str
    goods_id: str
    activity_id: int
    out_trade_no: str
    team_id: str | None = None
    notify_type: str = NotifyType.MQ
    notify_url: str = ""


@dataclass(frozen=True)
class LockResult:
    order_id: str
    team_id: str
    original_price: Decimal
    deduction_price: Decimal
    pay_price: Decimal
    status: int

    @classmethod
    def of(cls, order: Order) -> LockResult:
        return cls(
            order_id=order.order_id,
            team_id=order.team_id,
            original_price=order.original_price,
            deduction_price=order.deduction_price,
            pay_price=order.pay_price,
            status=order.status,
        )


@dataclass
class LockContext:
    team: Team | None = None
    trial: TrialResult | None = None
    biz_id: str = ""


def existing_order(command: LockCommand) -> Order | None:
    return row_where(Order, source=command.source, channel=command.channel, out_trade_no=command.out_trade_no)


def replay(order: Order, command: LockCommand) -> LockResult:
    """The answer to a retried lock: the same order, whatever happened since; never a second seat."""
    if order.user_id != command.user_id:
        raise GroupBuyError(
            ResponseCode.ILLEGAL_PARAMETER,
            _("outTradeNo already belongs to another user's order"),
            data={"outTradeNo": [_("already used by another user")]},
        )
    return LockResult.of(order)


class IdempotentReplay(Link[LockCommand, LockContext]):
    name = "idempotent_replay"

    def handle(self, command: LockCommand, ctx: LockContext) -> Stop | None:
        order = existing_order(command)
        return Stop(replay(order, command)) if order else None


class NotifyTargetAllowed(Link[LockCommand, LockContext]):
    """An HTTP callback goes only to a host the channel's credential allows (``apps.accounts.notify_targets``)."""

    name = "notify_target_allowed"

    def handle(self, command: LockCommand, ctx: LockContext) -> None:
        if command.notify_type != NotifyType.HTTP:
            return
        credential = channel_credential_get(source=command.source, channel=command.channel)
        reason = (
            _("unknown channel") if credential is None
            else notify_url_refusal(credential=credential, url=command.notify_url)
        )  # fmt: skip
        if reason:
            raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, reason, data={"notifyUrl": [reason]})


class TeamJoinable(Link[LockCommand, LockContext]):
    """A named team must be the channel's own, in this activity, in progress, unexpired and not full.

    A closed team (FAILED: expired unformed, or every member left) answers E0005 "the team has closed";
    a formed or full one E0006.

    Another channel's team answers exactly as a team that does not exist (E0002), so a channel cannot
    learn which team ids other channels use.
    """

    name = "team_joinable"

    def handle(self, command: LockCommand, ctx: LockContext) -> None:
        if not command.team_id:
            return
        team = row_where(Team, team_id=command.team_id, source=command.source, channel=command.channel)
        if team is None:
            raise GroupBuyError(
                ResponseCode.E0002,
                _("no such team for this channel"),
                data={"teamId": [_("no such team for this channel")]},
            )
        if team.activity_id != command.activity_id:
            raise GroupBuyError(
                ResponseCode.ILLEGAL_PARAMETER,
                _("no such team in this activity"),
                data={"teamId": [_("no such team in this activity")]},
            )
        if team.status == Team.Status.FAILED:
            # Expired unformed, or closed when its last member left (apps.trade.refunds): not "full".
            raise GroupBuyError(ResponseCode.E0005, _("the team has closed"))
        if team.status != Team.Status.IN_PROGRESS or team.lock_count >= team.target_count:
            raise GroupBuyError(ResponseCode.E0006)
        if team.valid_end_time <= timezone.now():
            raise GroupBuyError(ResponseCode.E0005, _("the team has expired"))
        ctx.team = team


class TrialAllows(Link[LockCommand, LockContext]):
    name = "trial_allows"

    def handle(self, command: LockCommand, ctx: LockContext) -> None:
        trial = trial_calculate(
            TrialRequest(
                user_id=command.user_id,
                source=command.source,
                channel=command.channel,
                goods_id=command.goods_id,
                activity_id=command.activity_id,
            )
        )
        if not (trial.is_visible and trial.is_enable):
            raise GroupBuyError(ResponseCode.E0007)
        ctx.trial = trial


class ActivityOpen(Link[LockCommand, LockContext]):
    name = "activity_open"

    def handle(self, command: LockCommand, ctx: LockContext) -> None:
        activity = ctx.trial.activity
        if not activity.is_effective:
            raise GroupBuyError(ResponseCode.E0101)
        if not activity.is_open_at(timezone.now()):
            raise GroupBuyError(ResponseCode.E0102)


class TakeLimit(Link[LockCommand, LockContext]):
    """Count the channel's user's live (locked or paid) orders in the activity and pick the take slot.

    The slot is ``biz_id = {activity_id}_{user_id}_{n}`` with the smallest free n; its unique key with
    the channel, (source, channel, biz_id), makes concurrent locks of one user for the same slot collide,
    so racing calls cannot exceed the limit, and another channel's user of the same name takes nothing
    from this one. A refund renames its order's biz_id, freeing that slot.
    """

    name = "take_limit"

    def handle(self, command: LockCommand, ctx: LockContext) -> None:
        live = values_where(
            Order, ("biz_id",), user_id=command.user_id, activity=command.activity_id,
            source=command.source, channel=command.channel, status=LIVE_ORDER_STATUSES,
        )  # fmt: skip
        taken = {biz_id for (biz_id,) in live}
        if len(taken) >= ctx.trial.activity.take_limit_count:
            raise GroupBuyError(ResponseCode.E0103)
        n = 1
        while biz_id(command, n) in taken:
            n += 1
        ctx.biz_id = biz_id(command, n)


def biz_id(command: LockCommand, n: int) -> str:
    return f"{command.activity_id}_{command.user_id}_{n}"


def build_lock_chain() -> Chain[LockCommand, LockContext]:
    return Chain(
        "lock",
        [IdempotentReplay(), NotifyTargetAllowed(), TeamJoinable(), TrialAllows(), ActivityOpen(), TakeLimit()],
    )


lock_chain = build_lock_chain()
