"""The inbox bell on every page: ``inbox_bell.unread`` for a logged-in user, counted only when a template shows it
(one COUNT on the (user, read_at) index, once per response), and nothing at all for visitors not logged in."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import cached_property

from apps.notifications.selectors import inbox_unread_count


class InboxBell:
    def __init__(self, user: object) -> None:
        self._user = user

    @cached_property
    def unread(self) -> int:
        return inbox_unread_count(user=self._user)  # type: ignore[arg-type]  # a logged-in request.user


def inbox(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"inbox_bell": InboxBell(user)}
