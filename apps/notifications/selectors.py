"""Reads of the in-site inbox, always scoped by the verified user (style rule 11)."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import User
from apps.notifications.models import InboxMessage


def inbox_unread_count(*, user: User) -> int:
    """The bell's number: one COUNT on the (user, read_at) index."""
    return InboxMessage.objects.filter(user=user, read_at__isnull=True).count()


def inbox_messages(*, user: User) -> QuerySet[InboxMessage]:
    """The user's messages, newest first."""
    return InboxMessage.objects.filter(user=user).order_by("-create_time", "-id")


def inbox_message_of(*, user: User, message_id: int) -> InboxMessage | None:
    return InboxMessage.objects.filter(pk=message_id, user=user).first()
