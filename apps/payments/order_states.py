"""What a shopper's order looks like on /orders and the cashier: one display state, its words and its
next step, derived in one place from the mall order, its group-buy seat and team, and its refund record.

Decisions (the spec is silent):

* Money is "refunded" only when the gateway said so (a SUCCESS refund record). Until then a paid order
  whose seat was given back, whose team failed, or whose payment could not be settled says "refund in
  progress": the refund runs asynchronously (the bus message, then the gateway), and the page never
  claims money is back before it is.
* An order with no money taken is "cancelled", never "refunded": whether the shopper cancelled it or did
  not pay in time, nothing was charged, so the page says exactly that.
* A refund is "because the team did not fill" when the team failed and the seat was given back at or
  after the team's deadline (the timeout job); a seat given back before it was the shopper's own choice.
  "By customer service" when the refund record names a staff operator.
* A complete team is a success state: no invitation, no share prompt, the team page is only "view".
* An order bought alone (no group buy) has no seat and no team: once paid it is simply confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.payments.models import PayOrder, RefundRecord
from apps.trade.models import Order, Team

PAID = (PayOrder.Status.PAY_SUCCESS, PayOrder.Status.DEAL_DONE)
UNPAID = (PayOrder.Status.CREATE, PayOrder.Status.PAY_WAIT)
FORMED = (Team.Status.COMPLETE, Team.Status.COMPLETE_WITH_REFUND)


class ShopperState(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    CONFIRMING = "confirming"  # paid at the gateway, its notify not applied yet (the cashier reloads)
    WAITING_FOR_TEAM = "waiting_for_team"
    TEAM_COMPLETE = "team_complete"
    BOUGHT_ALONE = "bought_alone"  # paid at full price without a team: confirmed at once
    REFUND_IN_PROGRESS = "refund_in_progress"
    TEAM_FAILED_REFUNDED = "team_failed_refunded"
    REFUNDED_BY_STAFF = "refunded_by_staff"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


# The CSS tone of each state (colour of its words): pending, success, refund, closed.
TONES = {
    ShopperState.AWAITING_PAYMENT: "pending",
    ShopperState.CONFIRMING: "pending",
    ShopperState.WAITING_FOR_TEAM: "paid pending",
    ShopperState.TEAM_COMPLETE: "paid success",
    ShopperState.BOUGHT_ALONE: "paid success",
    ShopperState.REFUND_IN_PROGRESS: "refund pending",
    ShopperState.TEAM_FAILED_REFUNDED: "refund",
    ShopperState.REFUNDED_BY_STAFF: "refund",
    ShopperState.REFUNDED: "refund",
    ShopperState.CANCELLED: "closed",
}


@dataclass(frozen=True)
class Action:
    """A next step: a link (GET) or a button that POSTs (cancel, refund)."""

    kind: str  # pay, invite, view-team, cancel, refund, buy-again, new-team
    label: str
    url: str
    post: bool = False
    confirm: str = ""


@dataclass(frozen=True)
class OrderView:
    order: PayOrder
    state: ShopperState
    label: str  # the short status ("Refunded ¥80.00")
    detail: str  # one sentence: what happened, what happens next
    countdown_to: datetime | None  # pay deadline, or the team's end while waiting for it
    seats_left: int | None
    actions: tuple[Action, ...]

    @property
    def tone(self) -> str:
        return TONES[self.state]


def _when(moment: datetime | None) -> str:
    return date_format(timezone.localtime(moment), "Y-m-d H:i") if moment else ""


def shopper_state(
    *,
    order: PayOrder,
    seat: Order | None,
    refund: RefundRecord | None,
    pay_deadline: datetime,
    paid_at_gateway: bool = False,
    now: datetime,
) -> ShopperState:
    """The one table of display states (see the module docstring for the decisions)."""
    team = seat.team if seat is not None else None
    if refund is not None and refund.status == RefundRecord.Status.SUCCESS:
        if refund.operator_id is not None:
            return ShopperState.REFUNDED_BY_STAFF
        if _team_failed(seat):
            return ShopperState.TEAM_FAILED_REFUNDED
        return ShopperState.REFUNDED
    money_taken = order.status in PAID or order.refund_required or refund is not None
    if money_taken and order.market_type == PayOrder.MarketType.NONE:
        refunding = refund is not None or order.refund_required
        return ShopperState.REFUND_IN_PROGRESS if refunding else ShopperState.BOUGHT_ALONE
    if money_taken:
        seat_gone = seat is None or seat.status == Order.Status.REFUNDED
        if order.refund_required or refund is not None or order.status == PayOrder.Status.CLOSE or seat_gone:
            return ShopperState.REFUND_IN_PROGRESS
        if order.status == PayOrder.Status.DEAL_DONE or (team is not None and team.status in FORMED):
            return ShopperState.TEAM_COMPLETE
        if team is not None and team.status == Team.Status.FAILED:
            return ShopperState.REFUND_IN_PROGRESS
        return ShopperState.WAITING_FOR_TEAM
    if order.status in UNPAID and (seat is None or seat.status == Order.Status.LOCKED):
        if paid_at_gateway:
            return ShopperState.CONFIRMING
        if pay_deadline > now:
            return ShopperState.AWAITING_PAYMENT
    return ShopperState.CANCELLED


def _team_failed(seat: Order | None) -> bool:
    return (
        seat is not None
        and seat.team.status == Team.Status.FAILED
        and seat.status == Order.Status.REFUNDED
        and seat.update_time >= seat.team.valid_end_time
    )


def order_view(
    *,
    order: PayOrder,
    seat: Order | None,
    refund: RefundRecord | None,
    pay_deadline: datetime,
    paid_at_gateway: bool = False,
    now: datetime | None = None,
) -> OrderView:
    """The state with its words and next steps (texts in the active language)."""
    now = now or timezone.now()
    state = shopper_state(
        order=order, seat=seat, refund=refund, pay_deadline=pay_deadline, paid_at_gateway=paid_at_gateway, now=now
    )
    team = seat.team if seat is not None else None
    amount = f"{(refund.amount if refund is not None else order.pay_amount):.2f}"
    refunded_on = _when(refund.refunded_at if refund is not None else None)
    team_url = reverse("payments:team", args=[order.team_id]) if order.team_id else ""
    goods_url = reverse("storefront:goods", args=[order.product_id])
    cancel = Action(
        "cancel", _("Cancel order"), reverse("payments:order-refund", args=[order.order_id]), post=True,
        confirm=_("Cancel this order? Nothing has been charged."),
    )  # fmt: skip
    refund_button = Action(
        "refund", _("Request a refund"), reverse("payments:order-refund", args=[order.order_id]), post=True,
        confirm=_("Give your seat back? The amount you paid is refunded."),
    )  # fmt: skip
    countdown_to, seats_left = None, None
    actions: tuple[Action, ...] = ()

    if state == ShopperState.AWAITING_PAYMENT:
        label = _("Waiting for payment")
        detail = _("Pay before the countdown ends to keep your seat.")
        countdown_to = pay_deadline
        actions = (Action("pay", _("Pay now"), reverse("payments:cashier", args=[order.order_id])), cancel)
    elif state == ShopperState.CONFIRMING:
        label = _("Confirming payment")
        detail = _("Payment received, waiting for the gateway's confirmation…")
    elif state == ShopperState.WAITING_FOR_TEAM:
        seats_left = max(0, team.target_count - team.lock_count) if team is not None else 0
        label = _("Paid, waiting for the team")
        detail = ngettext(
            "%(count)d more person needed. Invite friends before the team closes.",
            "%(count)d more people needed. Invite friends before the team closes.",
            seats_left,
        ) % {"count": seats_left}
        countdown_to = team.valid_end_time if team is not None else None
        actions = ((Action("invite", _("Invite friends"), team_url),) if team_url else ()) + (refund_button,)
    elif state == ShopperState.TEAM_COMPLETE:
        label = _("Team complete")
        detail = _("Your team is complete and your order is confirmed.")
        actions = ((Action("view-team", _("View the team"), team_url),) if team_url else ()) + (refund_button,)
    elif state == ShopperState.BOUGHT_ALONE:
        label = _("Paid")
        detail = _("Bought at the full price. Your order is confirmed.")
        actions = (refund_button,)
    elif state == ShopperState.REFUND_IN_PROGRESS:
        label = _("Refund in progress")
        if team is not None and team.status == Team.Status.FAILED:
            detail = _("The team did not fill in time. ¥%(amount)s is on its way back to you.") % {"amount": amount}
        elif order.refund_required and seat is not None and seat.status != Order.Status.REFUNDED:
            detail = _("Your seat could not be confirmed. ¥%(amount)s is on its way back to you.") % {"amount": amount}
        else:
            detail = _("¥%(amount)s is on its way back to you.") % {"amount": amount}
    elif state == ShopperState.TEAM_FAILED_REFUNDED:
        label = _("Refunded ¥%(amount)s") % {"amount": amount}
        detail = _("The team did not fill before %(deadline)s. ¥%(amount)s was refunded on %(date)s.") % {
            "deadline": _when(team.valid_end_time if team is not None else None),
            "amount": amount,
            "date": refunded_on,
        }
        actions = (Action("new-team", _("Open a new team"), goods_url),)
    elif state == ShopperState.REFUNDED_BY_STAFF:
        label = _("Refunded ¥%(amount)s") % {"amount": amount}
        detail = _("Customer service refunded ¥%(amount)s on %(date)s.") % {"amount": amount, "date": refunded_on}
        actions = (Action("buy-again", _("Buy again"), goods_url),)
    elif state == ShopperState.REFUNDED:
        label = _("Refunded ¥%(amount)s") % {"amount": amount}
        detail = _("You gave your seat back. ¥%(amount)s was refunded on %(date)s.") % {
            "amount": amount,
            "date": refunded_on,
        }
        actions = (Action("buy-again", _("Buy again"), goods_url),)
    else:
        label = _("Cancelled")
        detail = _("This order was not paid, so nothing was charged.")
        actions = (Action("buy-again", _("Buy again"), goods_url),)
    return OrderView(
        order=order, state=state, label=label, detail=detail, countdown_to=countdown_to, seats_left=seats_left,
        actions=actions,
    )  # fmt: skip
