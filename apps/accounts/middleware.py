"""Seamless login (无痕登录, domain.md 11): a trusted device logs its browser in without a scan.

Goes right after ``django.contrib.auth.middleware.AuthenticationMiddleware``. Per request:

1. A session that logged in through a device (``SESSION_DEVICE_KEY``) is checked against the device's
   cached state (no SQL when warm). Revoked, expired, deleted or another user's → the session is
   logged out and the cookie deleted: revoking in admin ends the session at its next request.
2. Otherwise an anonymous browser with a device cookie is logged in when the signature verifies, the
   device is neither revoked nor expired and its user is active; a cookie failing any of these is
   deleted from the browser. This happens on safe methods (GET, HEAD, OPTIONS) only: logging in
   rotates the CSRF token, which would fail the CSRF check of the very POST that carried the cookie.
   A POST of an expired session is anonymous, and the next page view logs the browser in again.

A session logged in some other way (``/admin/login/``) is left alone, whatever cookie it carries.
"""

from collections.abc import Callable

from django.contrib.auth import SESSION_KEY, login, logout
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from apps.accounts.browser import (
    DEVICE_COOKIE,
    SESSION_DEVICE_KEY,
    device_id_from_cookie,
    forget_device_cookie,
    login_backend,
    session_device_id,
)
from apps.accounts.selectors import trusted_device_state
from apps.accounts.services import trusted_device_login

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TrustedDeviceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        forget = self._check(request)
        response = self.get_response(request)
        # A login during this request may have set a new cookie: never delete that one.
        if forget and DEVICE_COOKIE in request.COOKIES and DEVICE_COOKIE not in response.cookies:
            forget_device_cookie(response)
        return response

    def _check(self, request: HttpRequest) -> bool:
        """Log in or out as the device says; True when the browser's device cookie must go."""
        if not hasattr(request, "session"):
            return False
        if SESSION_DEVICE_KEY in request.session:
            device_id = session_device_id(request)
            state = trusted_device_state(device_id=device_id) if device_id else None
            if state is not None and state.counts_for(user_id=request.session.get(SESSION_KEY), now=timezone.now()):
                return False
            logout(request)
            return True
        if DEVICE_COOKIE not in request.COOKIES or request.method not in SAFE_METHODS:
            return False
        if request.user.is_authenticated:
            return False
        device_id = device_id_from_cookie(request)
        user = trusted_device_login(device_id=device_id) if device_id else None
        if device_id is None or user is None:
            return True
        login(request, user, backend=login_backend(user))
        request.session[SESSION_DEVICE_KEY] = device_id.hex
        return False
