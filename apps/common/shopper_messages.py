"""What a shopper reads when a page action fails: the GroupBuyError code mapped to plain words.

The API keeps the spec's ``{code, info}``; pages never show internal codes (E0103) or the integration-facing
``info`` ("unknown outTradeNo ..."). A refusal whose ``data["reason"]`` names a known reason gets that
reason's words (the code alone would say less); a code without its own words gets the generic "try again".
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.common.errors import GroupBuyError, ResponseCode

# ``GroupBuyError(..., data={"reason": ALREADY_IN_TEAM})``: the shopper tried to join a team they are in.
ALREADY_IN_TEAM = "already_in_team"
# E0108 while teams are still open: no new team may open, but the open ones may be joined (apps/trade/limits.py).
JOIN_OPEN_TEAM = "join_open_team"

_TRY_AGAIN = _("Something went wrong. Please try again in a moment.")

SHOPPER_MESSAGES = {
    ResponseCode.ILLEGAL_PARAMETER: _("That request was not valid. Please reload the page and try again."),
    ResponseCode.INDEX_EXCEPTION: _TRY_AGAIN,
    ResponseCode.UPDATE_ZERO: _TRY_AGAIN,
    ResponseCode.HTTP_EXCEPTION: _TRY_AGAIN,
    ResponseCode.RATE_LIMITED: _("Too many attempts. Please wait a moment and try again."),
    ResponseCode.SERVICE_UNAVAILABLE: _("We are busy right now. Please try again in a moment."),
    ResponseCode.E0001: _("This offer is not available right now."),
    ResponseCode.E0002: _("This offer or team does not exist any more."),
    ResponseCode.E0003: _("The offer is paused for a moment. Please try again in a few minutes."),
    ResponseCode.E0004: _("This offer is not open to your account yet."),
    ResponseCode.E0005: _("This team has just ended. Open a new team or join another one."),
    ResponseCode.E0006: _("This team is already full. Open a new team or join another one."),
    ResponseCode.E0007: _("This offer is reserved for selected members."),
    ResponseCode.E0008: _("No more teams can be opened for this offer right now."),
    ResponseCode.E0101: _("This offer is not running right now."),
    ResponseCode.E0102: _("This offer is not running right now."),
    ResponseCode.E0103: _("You have used up this offer: finish or cancel your current group buy first."),
    ResponseCode.E0104: _("This order can no longer be changed: it is already refunded or closed."),
    ResponseCode.E0105: _("Group buying is paused in this shop right now."),
    ResponseCode.E0106: _("The team closed before your payment arrived; the amount is refunded."),
    ResponseCode.E0107: _("Only new customers may join this team. You can still open a team of your own."),
    ResponseCode.E0108: _("This offer is sold out: all of its teams have formed."),
    ResponseCode.E0109: _("You have reached today's group-buy limit in this shop. Please come back tomorrow."),
    ResponseCode.NOT_FOUND: _("We could not find that order."),
}

REASON_MESSAGES = {
    ALREADY_IN_TEAM: _("You are already in this team. Share it with friends to fill the remaining seats."),
    JOIN_OPEN_TEAM: _("No new team can be opened for this offer any more: join one of the open teams."),
}


def refusal_reason(exc: GroupBuyError) -> str | None:
    return exc.data.get("reason") if isinstance(exc.data, dict) else None


def shopper_message(exc: GroupBuyError) -> str:
    """The words a page shows for ``exc`` (in the active language), never its code."""
    reason = refusal_reason(exc)
    words = (reason and REASON_MESSAGES.get(reason)) or SHOPPER_MESSAGES.get(exc.response_code, _TRY_AGAIN)
    return str(words)
