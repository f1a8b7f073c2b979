"""Signed channel requests (验签, api.md "Channel request signing"): ``signed_call_verify`` turns a request into
the verified ``SignedCall`` the signed API's handlers receive (``apps.channels.signed_api``).

Checks, cheapest and least revealing first: the parameters parsed once (0002), the cached credential (E0203),
the headers and timestamp (E0201, E0202), the signature (E0201), and only then the nonce (E0202) in
``apps.channels.nonces``. Why this order: docs/decisions/007-signed-requests-are-checked-cheapest-first.md;
Redis down at the nonce check: docs/decisions/008-replay-protection-survives-a-redis-outage.md.
"""

import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeGuard

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from prometheus_client import Counter
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from apps.channels.models import ChannelCredential
from apps.channels.nonces import (
    NonceStoreUnavailable,
    nonce_copy_pending,
    nonce_key,
    nonce_record,
    nonce_ttl_seconds,
)
from apps.channels.selectors import channel_credential_get
from apps.channels.signing import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_request_signature
from apps.common.errors import GroupBuyError, ResponseCode

logger = logging.getLogger(__name__)

SIGNATURE_REJECTIONS = Counter("gbm_signature_rejections_total", "Signed requests refused, by error code", ["code"])

_NONCE = re.compile(r"[\x21-\x7e]{1,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_TIMESTAMP_META, _NONCE_META, _SIGNATURE_META = (
    "HTTP_" + name.upper().replace("-", "_") for name in (TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)
)
_QUERY_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class ChannelPrincipal:
    """The verified caller of a signed request: the calling mall's sales channel (``SignedCall.caller``)."""

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


_UTF8_CHARSETS = frozenset({"utf-8", "utf8"})


class PendingNonce:
    """A verified call's nonce (step 5): ``record`` it, or let a Redis script record it together with the handler's
    first Redis work (``apps.dcc.ratelimit``: the trial's permit) and report with ``mark_recorded``.
    Either way a replay is refused with E0202 before the call changes anything."""

    __slots__ = ("channel", "nonce", "recorded", "source")

    def __init__(self, source: str, channel: str, nonce: str) -> None:
        self.source, self.channel, self.nonce = source, channel, nonce
        self.recorded = False

    @property
    def key(self) -> str:
        return nonce_key(source=self.source, channel=self.channel, nonce=self.nonce)

    @property
    def ttl_seconds(self) -> int:
        return nonce_ttl_seconds()

    @property
    def script_may_record(self) -> bool:
        """False while this process still has nonces to copy from the database into Redis (``nonce_record``
        then looks the nonce up in the database as well)."""
        return not nonce_copy_pending()

    def record(self) -> None:
        """Record the nonce in the nonce store (Redis, else the database); E0202 for a replay or when neither store
        can tell."""
        try:
            fresh = nonce_record(source=self.source, channel=self.channel, nonce=self.nonce)
        except NonceStoreUnavailable as exc:
            raise _refuse(
                ResponseCode.E0202, _("Replay protection is unavailable, please retry."), self.source, self.channel
            ) from exc
        self.mark_recorded(fresh=fresh)

    def mark_recorded(self, *, fresh: bool) -> None:
        """The nonce was recorded (``fresh``: it was new); E0202 for a replay."""
        self.recorded = True
        if not fresh:
            raise _refuse(ResponseCode.E0202, _("The nonce was already used."), self.source, self.channel)


@dataclass(frozen=True)
class SignedCall:
    """A verified signed request: the credential and the request's own parameters.

    ``params`` is the JSON object parsed once from the bytes the signature covered (the query string for
    GET/HEAD). Views validate exactly this, never ``request.data``: a second parse (another charset,
    another parser) could read another channel's name out of the same bytes.
    """

    credential: ChannelCredential
    params: Mapping[str, Any]
    # The signed call's nonce; recorded already unless the endpoint defers it to its handler.
    nonce: PendingNonce | None = None

    @property
    def caller(self) -> ChannelPrincipal:
        return ChannelPrincipal(source=self.credential.source, channel=self.credential.channel)


def _refuse_charset(request: HttpRequest) -> None:
    """Bodies and query strings are UTF-8 (api.md "Channel isolation"); Django would decode them with any
    charset the Content-Type names, so another one is refused before anything is read."""
    charset = (request.content_params or {}).get("charset")  # None only on a request Django did not build
    if charset is not None and charset.strip().lower() not in _UTF8_CHARSETS:
        raise GroupBuyError(ResponseCode.UNSUPPORTED_CHARSET, _("The request body must be JSON in UTF-8."))


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate key")
    return obj


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _json_object(body: bytes) -> dict[str, Any]:
    """The body as one JSON object: strict UTF-8, no duplicate keys (readers disagree on which one wins),
    no NaN/Infinity. Anything else → 0002."""
    try:
        payload: Any = (
            json.loads(body.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constants)
            if body
            else None
        )
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise GroupBuyError(
            ResponseCode.ILLEGAL_PARAMETER, _("The request body is not valid JSON in UTF-8 (or repeats a key).")
        ) from exc
    if not isinstance(payload, dict):
        raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, _("The request body must be a JSON object."))
    return payload


def _query_params(request: HttpRequest) -> dict[str, str]:
    """The query string as single values; a repeated parameter is refused (which one would count?)."""
    query = request.GET
    repeated = [name for name, values in query.lists() if len(values) > 1]
    if repeated:
        raise GroupBuyError(
            ResponseCode.ILLEGAL_PARAMETER,
            _("A query parameter is repeated."),
            data={name: [_("This parameter is repeated.")] for name in repeated},
        )
    return query.dict()


def _params(request: HttpRequest) -> Mapping[str, Any]:
    """The request's parameters, read once: the JSON body, or the query string for GET/HEAD."""
    _refuse_charset(request)
    if request.method in _QUERY_METHODS:
        return _query_params(request)
    try:
        body = request.body
    except RequestDataTooBig as exc:
        raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, _("The request body is too large.")) from exc
    return _json_object(body)


def _caller(params: Mapping[str, Any]) -> tuple[str, str]:
    """The (source, channel) the request claims to come from."""
    source, channel = params.get("source"), params.get("channel")
    if _names_channel(source) and _names_channel(channel):
        return source, channel
    errors = {
        name: [_("This field is required: it names the calling channel.")]
        for name, value in (("source", source), ("channel", channel))
        if not _names_channel(value)
    }
    raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, _("source and channel are required."), data=errors)


def _names_channel(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip())


def _verify_signed(request: HttpRequest, credential: ChannelCredential, *, defer_nonce: bool) -> PendingNonce:
    source, channel = credential.source, credential.channel
    # From META: ``request.headers`` would build a dict of every header on each signed call.
    timestamp = request.META.get(_TIMESTAMP_META, "")
    nonce = request.META.get(_NONCE_META, "")
    signature = request.META.get(_SIGNATURE_META, "")
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
    if request.method is None or not verify_request_signature(  # None only on a request Django did not build
        credential.secret, request.method, request.path, timestamp, nonce, request.body, signature
    ):
        raise _refuse(ResponseCode.E0201, _("The signature does not match."), source, channel)
    pending = PendingNonce(source, channel, nonce)
    if not defer_nonce:
        pending.record()
    return pending


def signed_call_verify(request: HttpRequest, *, defer_nonce: bool = False) -> SignedCall:
    """The verified call: parameters parsed once, credential, signature, then the nonce; else a GroupBuyError
    (0002 with HTTP 400 or 415, E0201, E0202 or E0203).

    ``defer_nonce``: the nonce is left for the handler to record with its own first Redis work
    (``SignedCall.nonce``, ``PendingNonce``), before anything the call changes."""
    params = _params(request)
    source, channel = _caller(params)
    credential = channel_credential_get(source=source, channel=channel)
    if credential is None or not credential.enabled:
        raise _refuse(ResponseCode.E0203, None, source, channel)
    nonce = _verify_signed(request, credential, defer_nonce=defer_nonce) if credential.signature_required else None
    return SignedCall(credential, params, nonce)


def signed_params_check(call: SignedCall, data: Mapping[str, Any]) -> None:
    """Validated source/channel must be the verified caller's.

    They always are when parsed from the same bytes; the check makes that an invariant rather than an
    accident of today's parsing (a validator that trims or normalises a value would otherwise act for a
    channel the signature never named): a difference is refused with E0201.
    """
    source, channel = call.credential.source, call.credential.channel
    if (data.get("source"), data.get("channel")) != (source, channel):
        raise _refuse(ResponseCode.E0201, _("source/channel differ from the verified caller."), source, channel)


class ChannelSignatureAuthentication(BaseAuthentication):
    """The DRF face of ``signed_call_verify``: the signed views' documentation carries it, so drf-spectacular
    describes the three headers (``ChannelSignatureScheme``); it authenticates as the verified caller."""

    def authenticate(self, request: Request) -> tuple[ChannelPrincipal, SignedCall]:
        call = signed_call_verify(request)
        return call.caller, call

    def authenticate_header(self, request: Request) -> str:
        return "GBM-HMAC-SHA256"


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
