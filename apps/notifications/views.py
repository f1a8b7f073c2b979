"""The inbox page (/inbox/): the shopper's messages, newest first, each rendered in the reader's language; marking
read is a POST with the CSRF token (never a GET), and only of the shopper's own messages (another's id: 404)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.models import User
from apps.notifications.inbox import inbox_mark_all_read, inbox_message_mark_read
from apps.notifications.selectors import inbox_messages
from apps.notifications.texts import inbox_message_text

PAGE_SIZE = 20


class ShopperRequest(HttpRequest):
    """A request past ``login_required``: its user is logged in."""

    user: User


@login_required
def inbox_page(request: ShopperRequest) -> HttpResponse:
    page = Paginator(inbox_messages(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(message, inbox_message_text(message)) for message in page.object_list]
    return render(request, "notifications/inbox.html", {"page": page, "rows": rows})


@login_required
@require_POST
def inbox_read(request: ShopperRequest, message_id: int) -> HttpResponse:
    if inbox_message_mark_read(user=request.user, message_id=message_id) is None:
        raise Http404("no such message")
    return redirect("notifications:inbox")


@login_required
@require_POST
def inbox_read_all(request: ShopperRequest) -> HttpResponse:
    inbox_mark_all_read(user=request.user)
    return redirect("notifications:inbox")
