"""Password login throttle (api.md "Login"): failed attempts per account and per client address.

Used by both password logins, the ``/login`` page's form and ``POST /api/v1/login/token``, through
``password_authenticate``. Two Redis counters, each a fixed window of ``LOGIN_THROTTLE_WINDOW_SECONDS``
(default 15 min) opened by its first failure:

- the username's failures (case-folded, hashed; from any address): ``LOGIN_THROTTLE_ACCOUNT_FAILURES`` (5);
- the client address's failures (any usernames; an IPv6 address counts as its /64):
  ``LOGIN_THROTTLE_ADDRESS_FAILURES`` (20).

At the limit every further attempt is refused with 0006 (HTTP 429, ``Retry-After``) *before* the password
is checked, so a guesser learns nothing even from the right one. Only failures count: each attempt
reserves a slot on both counters in one Lua step (parallel guesses cannot overshoot) and a success gives
them back, clearing the account's failures. So an office behind one NAT is never throttled for logging in,
and the owner of an attacked account is refused only until the window ends (scan login stays open to
them meanwhile); an attacker can renew the window, but only by spending failures of their address's budget.

The client address is ``REMOTE_ADDR``, or the header a trusted proxy sets (``CLIENT_IP_HEADER``).

Redis unreachable → **fail open**, like the API rate limiter (``apps.dcc.ratelimit``): the login is
checked unthrottled, a warning logged (at most every few seconds) and counted. Refusing every password
login during a cache outage would lock everybody out; guessing stays bounded by the password hashing cost.
"""

import hashlib
import ipaddress
import logging
import math
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import ngettext
from prometheus_client import Counter
from redis.exceptions import RedisError

from apps.accounts.models import User
from apps.accounts.redis_scripts import LOGIN_THROTTLE_RELEASE, LOGIN_THROTTLE_RESERVE
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.logging import ThrottledWarning
from apps.common.redis import get_redis

logger = logging.getLogger(__name__)
_warn = ThrottledWarning(logger, 10.0)

LOGIN_THROTTLED = Counter("gbm_login_throttled_total", "Password logins refused by the throttle", ["limit"])
LOGIN_THROTTLE_FAIL_OPEN = Counter(
    "gbm_login_throttle_fail_open_total", "Password logins checked unthrottled because Redis was unreachable"
)


class LoginThrottled(GroupBuyError):
    """0006 (HTTP 429) with the seconds until the window ends (the adapters send ``Retry-After``)."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        minutes = math.ceil(self.retry_after / 60)
        message = ngettext(
            "Too many failed login attempts. Please try again in %(minutes)d minute.",
            "Too many failed login attempts. Please try again in %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}
        super().__init__(ResponseCode.RATE_LIMITED, message, data={"retryAfterSeconds": self.retry_after})


@dataclass(frozen=True)
class Reservation:
    """The slots one attempt holds: its two keys and whether each counted it (off at limit 0, or Redis down)."""

    keys: tuple[str, str]
    counted: tuple[bool, bool] = (False, False)


def client_address(request: HttpRequest) -> str:
    """The caller's address: the trusted proxy's header if configured and valid, else ``REMOTE_ADDR``."""
    candidates = []
    header = settings.CLIENT_IP_HEADER
    if header and request.META.get(header):
        candidates.append(request.META[header].split(",")[-1])  # a list: the entry our proxy appended
    candidates.append(request.META.get("REMOTE_ADDR", ""))
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate.strip())
        except ValueError:
            continue
        if isinstance(address, ipaddress.IPv6Address):
            if address.ipv4_mapped is not None:
                return str(address.ipv4_mapped)
            return str(ipaddress.ip_network(f"{address}/64", strict=False))  # one host holds a whole /64
        return str(address)
    return "unknown"


def _keys(*, username: str, address: str) -> tuple[str, str]:
    """(account failures, address failures)."""
    # One hash tag for all throttle keys: the script touches two of them, a cluster needs them in one slot.
    account = hashlib.sha256(User.normalize_username(username).strip().casefold().encode()).hexdigest()
    return f"gbm:login:throttle:{{pw}}:account:{account}", f"gbm:login:throttle:{{pw}}:address:{address}"


def login_throttle_reserve(*, username: str, address: str) -> Reservation:
    """Count one attempt as a failure until it succeeds; over a limit → ``LoginThrottled``."""
    account_limit = settings.LOGIN_THROTTLE_ACCOUNT_FAILURES
    address_limit = settings.LOGIN_THROTTLE_ADDRESS_FAILURES
    keys = _keys(username=username, address=address)
    try:
        allowed, retry_after, which = LOGIN_THROTTLE_RESERVE(
            keys=keys,
            args=[account_limit, address_limit, settings.LOGIN_THROTTLE_WINDOW_SECONDS],
            client=get_redis(),
        )
    except (RedisError, OSError) as exc:
        LOGIN_THROTTLE_FAIL_OPEN.inc()
        _warn("login throttle: Redis unreachable, checking passwords unthrottled: %s", exc)
        return Reservation(keys)
    if not allowed:
        limit = "account" if int(which) == 1 else "address"
        LOGIN_THROTTLED.labels(limit).inc()
        logger.warning("login throttle: %s limit reached (address %s)", limit, address)
        raise LoginThrottled(int(retry_after))
    return Reservation(keys, (account_limit > 0, address_limit > 0))


def login_throttle_release(reservation: Reservation) -> None:
    """The attempt succeeded: clear the account's failures and give the address its slot back."""
    if not any(reservation.counted):
        return
    try:
        LOGIN_THROTTLE_RELEASE(
            keys=reservation.keys, args=[int(flag) for flag in reservation.counted], client=get_redis()
        )
    except (RedisError, OSError) as exc:
        _warn("login throttle: Redis unreachable, a success was not credited: %s", exc)


def password_authenticate(request: HttpRequest, *, username: str, password: str) -> User | None:
    """The active user of these credentials, or ``None`` (a failure, counted); throttled → ``LoginThrottled``."""
    reservation = login_throttle_reserve(username=username, address=client_address(request))
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        return None
    login_throttle_release(reservation)
    return user
