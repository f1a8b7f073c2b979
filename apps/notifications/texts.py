"""The words of an inbox message, rendered when it is read: kind + parameters → title and body.

A message stores what happened and the values to say it with (``InboxMessage.params``), so the text follows the
reader's language (the request's, zh-hans by default) and a corrected translation reaches old messages too. Each
kind names the parameters it uses:

| kind            | params                                                                |
|-----------------|-----------------------------------------------------------------------|
| team_formed     | goodsName, targetCount                                                |
| team_failed     | goodsName, amount ("80.00", what the gateway actually gave back)      |
| team_expiring   | goodsName, seatsLeft, validEndTime (ISO-8601), minutes                |

A missing parameter renders as an empty value, never an error: a message outlives the code that wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, ngettext

from apps.notifications.models import InboxMessage


@dataclass(frozen=True)
class MessageText:
    title: str
    body: str


def _end_time(value: object) -> str:
    """The deadline as the reader's clock shows it (the project's time zone), hours and minutes."""
    parsed = parse_datetime(value) if isinstance(value, str) else value
    if not isinstance(parsed, datetime):
        return ""
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return timezone.localtime(parsed).strftime("%H:%M")


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload]  # a JSON value: int, str or junk
    except (TypeError, ValueError):
        return 0


def message_text(*, kind: str, params: dict) -> MessageText:
    """The title and body of a message of ``kind`` with ``params``, in the active language."""
    goods = str(params.get("goodsName") or "")
    if kind == InboxMessage.Kind.TEAM_FORMED:
        return MessageText(
            gettext("Your team is formed"),
            gettext("%(goods)s: the team is complete, your order is confirmed.") % {"goods": goods},
        )
    if kind == InboxMessage.Kind.TEAM_FAILED:
        return MessageText(
            gettext("Your team did not form: refunded"),
            gettext("%(goods)s: the team did not fill up in time. ¥%(amount)s has been refunded to you.")
            % {"goods": goods, "amount": params.get("amount") or ""},
        )
    if kind == InboxMessage.Kind.TEAM_EXPIRING:
        seats = _int(params.get("seatsLeft"))
        return MessageText(
            gettext("Your team is about to expire"),
            ngettext(
                "%(goods)s: %(seats)d seat is still free and the team closes at %(time)s. Invite a friend!",
                "%(goods)s: %(seats)d seats are still free and the team closes at %(time)s. Invite a friend!",
                seats,
            )
            % {"goods": goods, "seats": seats, "time": _end_time(params.get("validEndTime"))},
        )
    return MessageText(gettext("Team update"), goods)


def inbox_message_text(message: InboxMessage) -> MessageText:
    return message_text(kind=message.kind, params=message.params)
