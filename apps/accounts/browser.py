"""Browser logins: the one place that logs a browser in, and the signed device cookie.

Used by the login page (password form), the ``check_login`` API (scan login), the logout page and
``TrustedDeviceMiddleware`` (seamless login), so every browser login remembers the device the same
way: a ``TrustedDevice`` row, its id in the session (so a revocation ends the session too) and the
cookie::

    gbm_device = TimestampSigner(salt="groupbuy.device").sign(device_id.hex)

HttpOnly, SameSite=Lax, Secure on HTTPS, 30 days. The signature (``SECRET_KEY``) makes a forged or
altered id worthless; the row decides whether a genuine one still counts (revoked, expired).
"""

import hashlib
import secrets
import uuid

from django.conf import settings
from django.contrib.auth import login
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from apps.accounts.models import TrustedDevice, User
from apps.accounts.services import TRUSTED_DEVICE_LIFETIME, trusted_device_create, trusted_devices_revoke

DEVICE_COOKIE = "gbm_device"
DEVICE_SALT = "groupbuy.device"
SESSION_DEVICE_KEY = "_accounts_device"
SESSION_TICKET_OWNER_KEY = "_accounts_ticket_owner"
_COOKIE_MAX_LENGTH = 256  # a signed id is ~60 characters; anything much longer is junk


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=DEVICE_SALT)


def device_cookie_value(device_id: uuid.UUID) -> str:
    return _signer().sign(device_id.hex)


def device_id_from_cookie(request: HttpRequest) -> uuid.UUID | None:
    """The device id in the request's cookie if the signature verifies and is younger than 30 days."""
    value = request.COOKIES.get(DEVICE_COOKIE, "")
    if not value or len(value) > _COOKIE_MAX_LENGTH:
        return None
    try:
        return uuid.UUID(hex=_signer().unsign(value, max_age=TRUSTED_DEVICE_LIFETIME))
    except (signing.BadSignature, ValueError):  # SignatureExpired is a BadSignature
        return None


def set_device_cookie(response: HttpResponse, request: HttpRequest, device: TrustedDevice) -> None:
    max_age = max(0, int((device.expires_at - timezone.now()).total_seconds()))
    response.set_cookie(
        DEVICE_COOKIE,
        device_cookie_value(device.device_id),
        max_age=max_age,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )


def forget_device_cookie(response: HttpResponse) -> None:
    response.delete_cookie(DEVICE_COOKIE, samesite="Lax")


def session_device_id(request: HttpRequest) -> uuid.UUID | None:
    value = request.session.get(SESSION_DEVICE_KEY)
    try:
        return uuid.UUID(hex=value) if value else None
    except (TypeError, ValueError):
        return None


def login_backend(user: User) -> str:
    return getattr(user, "backend", None) or settings.AUTHENTICATION_BACKENDS[0]


def browser_login(request: HttpRequest, response: HttpResponse, user: User) -> TrustedDevice:
    """Log the browser in as ``user`` and remember it as a trusted device (cookie on ``response``).

    A device cookie the browser already holds is revoked: the new login replaces it.
    """
    previous = device_id_from_cookie(request) or session_device_id(request)
    login(request, user, backend=login_backend(user))
    if previous is not None:
        trusted_devices_revoke(device_ids=[previous])
    device = trusted_device_create(user=user, user_agent=request.headers.get("User-Agent", ""))
    request.session[SESSION_DEVICE_KEY] = device.device_id.hex
    set_device_cookie(response, request, device)
    return device


def ticket_owner(request: HttpRequest, *, bind: bool) -> str:
    """The hash that binds scan-login tickets to this browser session ("" = none).

    ``bind``: create the session's secret if it has none (issuing a ticket); the session middleware
    then saves the session and sets its cookie. Polling never creates one, so a poller without the
    issuing session's secret cannot collect the ticket. A secret in the session rather than the
    session key itself: the key is rotated at login (``cycle_key``), the secret survives it.
    """
    secret = request.session.get(SESSION_TICKET_OWNER_KEY)
    if not secret:
        if not bind:
            return ""
        secret = request.session[SESSION_TICKET_OWNER_KEY] = secrets.token_urlsafe(24)
    return hashlib.sha256(secret.encode()).hexdigest()


def safe_next(request: HttpRequest, candidate: str | None, default: str = "/") -> str:
    """``candidate`` if it is a local (same host) URL, else ``default``: no open redirect."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default
