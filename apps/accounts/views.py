"""Login pages: /login (QR scan + password), the phone's confirm page, the QR image, /logout."""

import io
import logging
from urllib.parse import urlencode

import segno
from django.contrib.auth import logout
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts.browser import (
    browser_login,
    device_id_from_cookie,
    forget_device_cookie,
    safe_next,
    session_device_id,
    ticket_owner,
)
from apps.accounts.forms import ThrottledAuthenticationForm
from apps.accounts.services import login_ticket_confirm, login_ticket_issue, trusted_devices_revoke
from apps.accounts.throttle import LoginThrottled
from apps.accounts.weixin import LOGIN_TICKET_PATTERN
from apps.common.errors import GroupBuyError, ResponseCode

logger = logging.getLogger(__name__)


@never_cache
@csrf_protect
@require_http_methods(["GET", "HEAD", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    throttled: LoginThrottled | None = None
    if request.method == "POST":
        form = ThrottledAuthenticationForm(request, data=request.POST)
        try:
            if form.is_valid():
                response: HttpResponse = redirect(next_url)
                browser_login(request, response, form.get_user())
                return response
        except LoginThrottled as exc:
            throttled = exc
            form.add_error(None, exc.info)
    elif request.user.is_authenticated:
        return redirect(next_url)
    else:
        form = ThrottledAuthenticationForm(request)
    try:
        ticket = login_ticket_issue(owner=ticket_owner(request, bind=True))
    except GroupBuyError as exc:
        if exc.response_code is not ResponseCode.SERVICE_UNAVAILABLE:
            raise
        ticket = None  # Redis is down: the password form still works
    context = {"form": form, "ticket": ticket, "next": next_url}
    if throttled is None:
        return render(request, "accounts/login.html", context)
    # 429 for the password form only: scan login on the same page still works for the account's owner.
    response = render(request, "accounts/login.html", context, status=throttled.http_status)
    response["Retry-After"] = str(throttled.retry_after)
    return response


def login_qr(request: HttpRequest, ticket: str) -> HttpResponse:
    """The QR code of a ticket, as SVG: it encodes the phone's confirm page for that ticket."""
    if not LOGIN_TICKET_PATTERN.fullmatch(ticket):
        raise Http404("no such ticket")
    target = request.build_absolute_uri(reverse("accounts:login-scan", args=[ticket]))
    buffer = io.BytesIO()
    segno.make(target, error="m", micro=False).save(buffer, kind="svg", scale=5, border=2, xmldecl=False)
    response = HttpResponse(buffer.getvalue(), content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=300"
    return response


@never_cache
@csrf_protect
@require_http_methods(["GET", "HEAD", "POST"])
def login_scan(request: HttpRequest, ticket: str) -> HttpResponse:
    """The page the phone opens from the QR code: a logged-in user confirms the other screen's login."""
    if not LOGIN_TICKET_PATTERN.fullmatch(ticket):
        raise Http404("no such ticket")
    if not request.user.is_authenticated:
        return redirect(f"{reverse('accounts:login')}?{urlencode({'next': request.get_full_path()})}")
    context = {"ticket": ticket, "state": "ask", "error": None}
    if request.method == "POST":
        try:
            login_ticket_confirm(ticket=ticket, user=request.user)
            context["state"] = "confirmed"
        except GroupBuyError as exc:
            context.update(state="failed", error=exc.info)
    return render(request, "accounts/scan.html", context)


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    """Log out and forget this browser's trusted device (revoked, cookie deleted)."""
    device_id = session_device_id(request) or device_id_from_cookie(request)
    if device_id is not None:
        trusted_devices_revoke(device_ids=[device_id])
    logout(request)
    response = redirect(safe_next(request, request.POST.get("next")))
    forget_device_cookie(response)
    return response
