"""Signed channel requests (验签, api.md "Channel request signing"): a DRF authentication class.

Order of checks, cheapest and least revealing first:

1. ``source``/``channel`` from the JSON body (POST and other body methods) or the query string
   (GET/HEAD). Bad JSON, a non-object body, or a missing/blank/non-string pair → 0002 (HTTP 400)
   with the field errors in ``data``.
2. The credential (cached, no SQL when warm). Unknown or disabled → E0203.
   ``signature_required=False`` (legacy malls) → accepted here, without headers.
3. Headers: any of X-GBM-Timestamp / X-GBM-Nonce / X-GBM-Signature missing → E0201; a nonce that is
   not 1–64 visible ASCII characters → E0201 (it is part of a Redis key and of the signed text, so no
   spaces, control characters or encoding questions); a timestamp that is not unix seconds, or off
   by more than ``SIGNATURE_CLOCK_SKEW`` either way → E0202.
4. The signature, constant-time → E0201.
5. Only then the nonce is recorded (``apps.accounts.nonces``: ``SET key NX EX ttl`` in Redis, key
   scoped by source+channel), so a forged request cannot burn a legitimate caller's nonces. Already
   seen → E0202. The TTL is ``SIGNATURE_NONCE_TTL`` but never less than twice the clock skew: a
   timestamp stays acceptable for 2 × skew, and its nonce must be remembered at least that long.

Decision — Redis unreachable during the nonce check: **the database records the nonce instead**
(table ``signature_nonce``, unique on source, channel and nonce), so a replay is still refused with
E0202 and a first request goes on to the domain, which answers with its own codes while Redis is down
(a join 0007, as team stock lives in Redis; a trial from the database through the cache downgrade).
Once Redis answers again, the nonces recorded in the database are copied into it, so they do not
become replayable. Only when the database fails too do we **fail closed**: the requests behind this
API lock orders, settle and refund, and without a nonce store a replay cannot be told from a first
request. The caller then gets E0202 (HTTP 401) "replay protection is unavailable, please retry" (the
error table has no 503-class code; E0202 is the closest, "nonce could not be checked"), and a retry
succeeds once either store is back (the nonce was never recorded). The fallback is counted
(``gbm_nonce_store_fallback_total``) and logged at most once every few seconds. What the fallback
cannot see — a replay during the outage of a nonce Redis recorded just before it, and a short window
after Redis is back — is spelled out in ``apps.accounts.nonces``. The credential lookup falls back to
the database too (see the selector), so an unsigned legacy channel keeps working while Redis is down.
"""

import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from prometheus_client import Counter
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.accounts.models import ChannelCredential
from apps.accounts.nonces import NonceStoreUnavailable, nonce_record, nonce_ttl_seconds
from apps.accounts.selectors import channel_credential_get
from apps.accounts.signing import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_request_signature
from apps.common.errors import GroupBuyError, ResponseCode

logger = logging.getLogger(__name__)

SIGNATURE_REJECTIONS = Counter("gbm_signature_rejections_total", "Signed requests refused, by error code", ["code"])

_NONCE = re.compile(r"[\x21-\x7e]{1,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_QUERY_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class ChannelPrincipal:
    """``request.user`` of a signed request: the calling mall's sales channel."""

    source: str
    channel: str

    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False

    @property
    def pk(self) -> str:
        """An identity for DRF's throttles and logs."""
        return f"{self.source}:{self.channel}"

    def __str__(self) -> str:
        return f"{self.source}/{self.channel}"


def _refuse(code: ResponseCode, info: str | None, source: str, channel: str) -> GroupBuyError:
    error = GroupBuyError(code, info)
    SIGNATURE_REJECTIONS.labels(code.code).inc()
    logger.info("signed request refused (%s) for %s/%s: %s", code.code, source, channel, error.info)
    return error


def _caller(request: Request) -> tuple[str, str]:
    """The (source, channel) the request claims to come from."""
    if request.method in _QUERY_METHODS:
        source, channel = request.query_params.get("source"), request.query_params.get("channel")
    else:
        try:
            payload: Any = json.loads(request.body) if request.body else None
        except RequestDataTooBig as exc:
            raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, _("The request body is too large.")) from exc
        except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, _("The request body is not valid JSON.")) from exc
        if not isinstance(payload, dict):
            raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, _("The request body must be a JSON object."))
        source, channel = payload.get("source"), payload.get("channel")
    errors = {
        name: [_("This field is required: it names the calling channel.")]
        for name, value in (("source", source), ("channel", channel))
        if not isinstance(value, str) or not value.strip()
    }
    if errors:
        raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, _("source and channel are required."), data=errors)
    return source, channel


def _verify_signed(request: Request, credential: ChannelCredential) -> None:
    source, channel = credential.source, credential.channel
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    nonce = request.headers.get(NONCE_HEADER, "")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not (timestamp and nonce and signature):
        missing = [name for name, value in ((TIMESTAMP_HEADER, timestamp), (NONCE_HEADER, nonce)) if not value]
        missing += [SIGNATURE_HEADER] if not signature else []
        raise _refuse(ResponseCode.E0201, _("Missing headers: %s.") % ", ".join(missing), source, channel)
    if not _NONCE.fullmatch(nonce):
        raise _refuse(ResponseCode.E0201, _("The nonce must be 1 to 64 visible ASCII characters."), source, channel)
    if not _TIMESTAMP.fullmatch(timestamp):
        raise _refuse(ResponseCode.E0202, _("The timestamp must be unix seconds."), source, channel)
    skew = settings.SIGNATURE_CLOCK_SKEW.total_seconds()
    if abs(time.time() - int(timestamp)) > skew:
        info = _("The timestamp is more than %d seconds away from the server's clock.") % skew
        raise _refuse(ResponseCode.E0202, info, source, channel)
    if not verify_request_signature(
        credential.secret, request.method, request.path, timestamp, nonce, request.body, signature
    ):
        raise _refuse(ResponseCode.E0201, _("The signature does not match."), source, channel)
    try:
        fresh = nonce_record(source=source, channel=channel, nonce=nonce)
    except NonceStoreUnavailable as exc:
        raise _refuse(
            ResponseCode.E0202, _("Replay protection is unavailable, please retry."), source, channel
        ) from exc
    if not fresh:
        raise _refuse(ResponseCode.E0202, _("The nonce was already used."), source, channel)


class ChannelSignatureAuthentication(BaseAuthentication):
    """Authenticates a calling mall by its (source, channel) credential and the request signature.

    Success: ``request.user`` is a ``ChannelPrincipal``, ``request.auth`` the ``ChannelCredential``.
    Failure: a ``GroupBuyError`` (0002, E0201, E0202 or E0203), rendered by the API exception handler.
    """

    def authenticate(self, request: Request) -> tuple[ChannelPrincipal, ChannelCredential]:
        source, channel = _caller(request)
        credential = channel_credential_get(source=source, channel=channel)
        if credential is None or not credential.enabled:
            raise _refuse(ResponseCode.E0203, None, source, channel)
        if credential.signature_required:
            _verify_signed(request, credential)
        return ChannelPrincipal(source=credential.source, channel=credential.channel), credential

    def authenticate_header(self, request: Request) -> str:
        return "GBM-HMAC-SHA256"


class IsSignedChannel(BasePermission):
    """Only requests authenticated by ``ChannelSignatureAuthentication``."""

    message = "a signed channel request is required"

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, ChannelPrincipal)


class SignedChannelApi(APIView):
    """Base of the views external malls call: signed requests only, ``request.user`` the ``ChannelPrincipal``."""

    authentication_classes = [ChannelSignatureAuthentication]
    permission_classes = [IsSignedChannel]


class ChannelSignatureScheme(OpenApiAuthenticationExtension):
    """drf-spectacular: the three headers, all required together (api.md "Channel request signing")."""

    target_class = ChannelSignatureAuthentication
    name = ["gbmTimestamp", "gbmNonce", "gbmSignature"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, str]]:
        skew, ttl = int(settings.SIGNATURE_CLOCK_SKEW.total_seconds()), nonce_ttl_seconds()
        return [
            {
                "type": "apiKey",
                "in": "header",
                "name": TIMESTAMP_HEADER,
                "description": f"Unix seconds; must be within ±{skew} s of the server's clock.",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": NONCE_HEADER,
                "description": f"Unique per request, 1–64 visible ASCII characters; remembered for {ttl} s.",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": SIGNATURE_HEADER,
                "description": (
                    'Lowercase hex HMAC-SHA256(secret, METHOD + "\\n" + PATH + "\\n" + timestamp + "\\n" + nonce '
                    '+ "\\n" + raw_body). The body\'s source/channel (query parameters for GET) pick the secret; '
                    "PATH excludes the query string."
                ),
            },
        ]
