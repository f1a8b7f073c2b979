"""The in-site inbox's writes: a reminder sent at most once, and a shopper marking messages read.

``reminder_send`` is what the reminder jobs call (``apps.payments.reminders``): the inbox sender stores the row
in the caller's transaction, and its unique key (user, team, kind) is the gate: a reminder the user already has
sends nothing, on any channel. The other senders (``apps.notifications.senders``: e-mail, later WeChat) run
after the commit, once each; a failure there is logged and not retried.
Design: docs/decisions/012-reminders-from-one-job.md.

Every read and write is scoped by the verified user: another shopper's message id is simply not found.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.notifications.models import InboxMessage
from apps.notifications.senders import INBOX, senders

logger = logging.getLogger(__name__)


def reminder_send(*, user: User, kind: str, team_id: str, params: dict) -> InboxMessage | None:
    """Tell ``user`` about team ``team_id`` (``kind``, with ``params``): in the inbox, then every other sender.

    Answers the stored message, or None when the user already had this team's message of this kind (nothing
    is sent again). Call it inside the transaction that decides the reminder is due.
    """
    message = InboxMessage(user=user, kind=kind, team_id=team_id, params=params)
    if not senders[INBOX].send(message):
        return None
    transaction.on_commit(lambda: _send_elsewhere(message))
    return message


def _send_elsewhere(message: InboxMessage) -> None:
    for name in senders:
        if name == INBOX:
            continue
        try:
            senders[name].send(message)
        except Exception:  # an SMTP outage must not stop the other senders, nor the job's other reminders
            logger.exception(
                "reminder %s (%s, team %s) not sent by %s", message.pk, message.kind, message.team_id, name
            )


def inbox_message_mark_read(*, user: User, message_id: int) -> InboxMessage | None:
    """The user's own message ``message_id``, read (idempotent: reading it again keeps the first time).
    None when the user has no such message."""
    InboxMessage.objects.filter(pk=message_id, user=user, read_at__isnull=True).update(
        read_at=timezone.now(), update_time=timezone.now()
    )
    return InboxMessage.objects.filter(pk=message_id, user=user).first()


def inbox_mark_all_read(*, user: User) -> int:
    """Every unread message of the user, read; answers how many."""
    now = timezone.now()
    return InboxMessage.objects.filter(user=user, read_at__isnull=True).update(read_at=now, update_time=now)
