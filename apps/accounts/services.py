"""Writes of the accounts app: scan-login tickets, WeChat identities, trusted devices, API tokens.

A scan-login ticket lives in Redis only: ``waiting``, ``confirmed`` by the first user, then consumed exactly
once, and only by the browser session that asked for it; Redis unreachable → 0007. Its states and why it is
bound to its browser: docs/decisions/009-a-scan-login-ticket-belongs-to-its-browser.md. Trusted devices
(seamless login): ``trusted_device_create``, ``trusted_device_login``, ``trusted_devices_revoke``; the cached
view of a device (``selectors.trusted_device_state``) is dropped after every commit that changes one.
"""

import hashlib
import logging
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, TypeVar

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from redis.exceptions import RedisError
from rest_framework.authtoken.models import Token

from apps.accounts.models import TrustedDevice, User, WeixinIdentity
from apps.accounts.redis_scripts import LOGIN_TICKET_CONFIRM, LOGIN_TICKET_CONSUME
from apps.accounts.selectors import trusted_device_cache_clear
from apps.accounts.weixin import LOGIN_TICKET_PATTERN, ScanEvent
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.redis import get_redis

logger = logging.getLogger(__name__)

LOGIN_TICKET_TTL_SECONDS = 300
# A confirmation always leaves the polling page at least this long to collect it.
LOGIN_TICKET_CONFIRM_GRACE_MS = 30_000
TRUSTED_DEVICE_LIFETIME = timedelta(days=30)
_USER_AGENT_MAX = TrustedDevice._meta.get_field("user_agent").max_length

T = TypeVar("T")


def login_ticket_key(ticket: str) -> str:
    return f"gbm:login:ticket:{ticket}"


def _redis(action: Callable[[], T], what: str) -> T:
    """Run a Redis step; unreachable → 0007 (HTTP 503), logged."""
    try:
        return action()
    except (RedisError, OSError) as exc:
        logger.warning("scan login: Redis unreachable while %s: %s", what, exc)
        raise GroupBuyError(ResponseCode.SERVICE_UNAVAILABLE) from exc


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _ticket_error(info: str) -> GroupBuyError:
    # The error table has no login code and apps/common/errors.py is shared: an unusable ticket is an
    # illegal parameter (0002, HTTP 400), the reason in ``info`` and, as for any field, in ``data``.
    return GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, info, data={"ticket": [info]})


# --- scan-login tickets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginTicket:
    ticket: str
    expire_seconds: int


@dataclass(frozen=True)
class TicketPoll:
    status: Literal["waiting", "confirmed", "expired"]
    user: User | None = None


def login_ticket_issue(*, owner: str) -> LoginTicket:
    """A new ticket in state ``waiting``, bound to one browser session by ``owner`` (a hash, required)."""
    if not owner:
        raise ValueError("a login ticket must be bound to the issuing browser session")
    ticket = secrets.token_urlsafe(24)  # 32 URL-safe characters, 192 random bits; fits WeChat's scene_str
    key = login_ticket_key(ticket)

    def write() -> None:
        pipe = get_redis().pipeline(transaction=True)
        pipe.hset(key, mapping={"state": "waiting", "owner": owner})
        pipe.expire(key, LOGIN_TICKET_TTL_SECONDS)
        pipe.execute()

    _redis(write, "issuing a ticket")
    return LoginTicket(ticket=ticket, expire_seconds=LOGIN_TICKET_TTL_SECONDS)


def login_ticket_confirm(*, ticket: str, user: User) -> None:
    """Bind ``ticket`` to ``user`` (the phone side). Expired or taken → 0002 with the reason."""
    if not user.is_active:
        raise GroupBuyError(ResponseCode.FORBIDDEN, _("This account is disabled."))
    if not LOGIN_TICKET_PATTERN.fullmatch(ticket):
        raise _ticket_error(_("ticket expired"))
    outcome = _text(
        _redis(
            lambda: LOGIN_TICKET_CONFIRM(
                keys=[login_ticket_key(ticket)], args=[user.pk, LOGIN_TICKET_CONFIRM_GRACE_MS]
            ),
            "confirming a ticket",
        )
    )
    if outcome == "expired":
        raise _ticket_error(_("ticket expired"))
    if outcome == "taken":
        raise _ticket_error(_("ticket already confirmed by another account"))
    logger.info("scan login: ticket confirmed by user %s", user.pk)


def login_ticket_consume(*, ticket: str, owner: str) -> TicketPoll:
    """One poll of the login page: ``confirmed`` with the user exactly once, else waiting/expired.

    Only the ticket's ``owner`` can collect it; to anyone else ("" = no binding) it stays ``waiting``.
    """
    if not LOGIN_TICKET_PATTERN.fullmatch(ticket):
        return TicketPoll("expired")
    status, user_id = (
        _text(part)
        for part in _redis(
            lambda: LOGIN_TICKET_CONSUME(keys=[login_ticket_key(ticket)], args=[owner]), "polling a ticket"
        )
    )
    if status != "confirmed":
        return TicketPoll(status)  # type: ignore[arg-type]
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:  # deactivated or deleted between the scan and this poll
        return TicketPoll("expired")
    return TicketPoll("confirmed", user)


# --- WeChat -------------------------------------------------------------------------------------


def _weixin_identity(openid: str) -> WeixinIdentity | None:
    return WeixinIdentity.objects.select_related("user").filter(openid=openid).first()


def _exactly(identity: WeixinIdentity, openid: str) -> User:
    if identity.openid != openid:
        # A case-insensitive collation (MariaDB's default) matched an openid differing only in case.
        logger.error("WeChat openid %r collides with %r under the database collation", openid, identity.openid)
        raise GroupBuyError(ResponseCode.INDEX_EXCEPTION, _("This WeChat account cannot be linked."))
    return identity.user


def weixin_user_get_or_create(*, openid: str) -> User:
    """The user of a WeChat openid; created (``wx_<openid>``, no usable password) at first sight.

    A concurrent delivery of the same event may create it first (the unique openid decides; we read
    the winner), and a password user may already be called ``wx_<openid>`` (then a random name).
    """
    for username in (f"wx_{openid}", f"wx_{uuid.uuid4().hex}"):
        identity = _weixin_identity(openid)
        if identity is not None:
            return _exactly(identity, openid)
        try:
            with transaction.atomic():
                user = User(username=username)
                user.set_unusable_password()
                user.save()
                WeixinIdentity.objects.create(user=user, openid=openid)
            logger.info("WeChat user %s created for a new openid", user.pk)
            return user
        except IntegrityError:
            continue
    identity = _weixin_identity(openid)
    if identity is None:
        raise GroupBuyError(ResponseCode.INDEX_EXCEPTION, _("This WeChat account cannot be linked."))
    return _exactly(identity, openid)


def weixin_delivery_record(*, timestamp: str, nonce: str, body: bytes, ttl_seconds: int) -> None:
    """Remember a signed portal delivery; a different body under a used signature is a replay (E0202)."""
    key = f"gbm:weixin:delivery:{timestamp}:{nonce}"
    digest = hashlib.sha256(body).hexdigest()

    def record() -> bool:
        client = get_redis()
        if client.set(key, digest, nx=True, ex=ttl_seconds):
            return True
        return _text(client.get(key) or b"") == digest

    if not _redis(record, "recording a WeChat delivery"):
        raise GroupBuyError(ResponseCode.E0202, _("This signature was already used for another message."))


def weixin_scan_receive(*, event: ScanEvent) -> None:
    """A signed scan event: bind its ticket to the scanning WeChat user. Refusals are logged, not raised.

    WeChat shows "this account cannot provide service" to the user for anything but a prompt
    ``success``, so an expired or taken ticket is only logged; the page simply keeps waiting or expires.
    """
    try:
        user = weixin_user_get_or_create(openid=event.openid)
        login_ticket_confirm(ticket=event.ticket, user=user)
    except GroupBuyError as exc:
        if exc.response_code is ResponseCode.SERVICE_UNAVAILABLE:
            raise  # 503: WeChat retries the delivery
        logger.info("scan login: WeChat scan of openid %s not bound: %s", event.openid, exc.info)


# --- API tokens -----------------------------------------------------------------------------------


def api_token_get_or_create(*, user: User) -> str:
    """The user's DRF token (one per user, created on first use)."""
    token, _created = Token.objects.get_or_create(user=user)
    return token.key


# --- trusted devices ------------------------------------------------------------------------------


def trusted_device_create(*, user: User, user_agent: str = "") -> TrustedDevice:
    now = timezone.now()
    return TrustedDevice.objects.create(
        user=user,
        user_agent=user_agent[:_USER_AGENT_MAX],
        last_seen=now,
        expires_at=now + TRUSTED_DEVICE_LIFETIME,
    )


def trusted_device_login(*, device_id: uuid.UUID) -> User | None:
    """The user a returning device logs in as, or ``None`` (unknown, revoked, expired, user inactive)."""
    now = timezone.now()
    device = TrustedDevice.objects.select_related("user").filter(device_id=device_id).first()
    if device is None or device.status(now) != "active" or not device.user.is_active:
        return None
    TrustedDevice.objects.filter(pk=device.pk).update(last_seen=now, update_time=now)
    return device.user


def trusted_devices_revoke(*, device_ids: Iterable[uuid.UUID]) -> int:
    """Revoke devices (idempotent); sessions logged in through them end at their next request."""
    ids = list(device_ids)
    now = timezone.now()
    with transaction.atomic():
        revoked = TrustedDevice.objects.filter(device_id__in=ids, revoked_at__isnull=True).update(
            revoked_at=now, update_time=now
        )
        for device_id in ids:
            trusted_device_cache_clear(device_id=device_id)  # after commit
    if revoked:
        logger.info("revoked %d trusted device(s)", revoked)
    return revoked
