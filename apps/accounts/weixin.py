"""The WeChat official-account protocol, as far as scan login needs it (api.md "Login", domain.md 11).

Pure functions, no database and no Redis: the portal API (``apps.accounts.apis.WeixinPortalApi``)
verifies and parses with them, ``apps.accounts.services.weixin_event_receive`` acts on the result.

Signature (both GET and POST)::

    signature = hex SHA1("".join(sorted([WEIXIN_TOKEN, timestamp, nonce])))

SHA1 is what WeChat sends; we cannot choose a better hash. The comparison is constant-time. In
WeChat's plaintext mode the signature does **not** cover the body, so whoever sees one signed
delivery could resend its query string with a body of their own. The POST path therefore also
requires a fresh timestamp (``SIGNATURE_CLOCK_SKEW``) and remembers each (timestamp, nonce) with the
digest of its body (``services.weixin_delivery_record``): a second body under the same signature is a
replay (E0202), while the same body again is WeChat's own retry and is accepted (binding is
idempotent). The GET echo check changes nothing, so it checks the signature only: a server clock
that is off must not stop the one-time URL verification in WeChat's console.

XML: ``defusedxml`` is not a dependency of the project, so the standard library parses, behind
three guards that make its known weaknesses unreachable:

* the body is capped (``MAX_BODY_BYTES``; a real event is well under 2 KiB), before parsing;
* the body must be UTF-8 without NUL characters, and the parser is told the encoding is UTF-8
  whatever the document declares. Without this a UTF-16 document would slip "<!DOCTYPE" past a
  byte search;
* any ``<!DOCTYPE`` or ``<!ENTITY`` is refused. WeChat never sends a DTD, and without one there
  are no entities to expand (billion laughs, quadratic blowup) or to resolve (external entities).
"""

import hashlib
import hmac
import os
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from apps.common.errors import GroupBuyError, ResponseCode

DEFAULT_WEIXIN_TOKEN = "groupbuy-weixin-token"  # noqa: S105  (the demo default; production sets its own)
MAX_BODY_BYTES = 16 * 1024
LOGIN_TICKET_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
SUBSCRIBE_SCENE_PREFIX = "qrscene_"

_OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NONCE = re.compile(r"[\x21-\x7e]{1,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_DTD = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def weixin_token() -> str:
    """The token typed into WeChat's console: settings.WEIXIN_TOKEN, else the environment, else the demo."""
    configured = getattr(settings, "WEIXIN_TOKEN", None)
    if configured is not None:
        return configured
    return os.environ.get("WEIXIN_TOKEN", DEFAULT_WEIXIN_TOKEN)


def weixin_signature(token: str, timestamp: str, nonce: str) -> str:
    """What WeChat puts in ``signature``: lowercase hex SHA1 of the three values sorted and joined."""
    joined = "".join(sorted([token, timestamp, nonce]))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()  # noqa: S324  (the protocol's hash)


def verify_weixin_signature(token: str, timestamp: str, nonce: str, signature: str | None) -> bool:
    """Constant-time check; a blank token (not configured) never matches."""
    if not token or not isinstance(signature, str) or not signature.isascii():
        return False
    return hmac.compare_digest(weixin_signature(token, timestamp, nonce), signature.lower())


@dataclass(frozen=True)
class SignedQuery:
    timestamp: str
    nonce: str


def weixin_query_verify(query: dict, *, fresh: bool) -> SignedQuery:
    """Check ``signature``/``timestamp``/``nonce`` of a portal request, or raise E0201/E0202 (HTTP 401).

    ``fresh``: also require the timestamp within ``SIGNATURE_CLOCK_SKEW`` of our clock (POST).
    """
    signature, timestamp, nonce = (query.get(name) or "" for name in ("signature", "timestamp", "nonce"))
    if not (_TIMESTAMP.fullmatch(timestamp) and _NONCE.fullmatch(nonce)):
        raise GroupBuyError(ResponseCode.E0201, _("The signature, timestamp or nonce is missing or malformed."))
    if not verify_weixin_signature(weixin_token(), timestamp, nonce, signature):
        raise GroupBuyError(ResponseCode.E0201, _("The signature does not match."))
    if fresh and abs(time.time() - int(timestamp)) > settings.SIGNATURE_CLOCK_SKEW.total_seconds():
        raise GroupBuyError(ResponseCode.E0202, _("The timestamp is too far from the server's clock."))
    return SignedQuery(timestamp=timestamp, nonce=nonce)


def delivery_ttl_seconds() -> int:
    """How long a POST's (timestamp, nonce) is remembered: its timestamp stays acceptable for 2 × skew."""
    return int(2 * settings.SIGNATURE_CLOCK_SKEW.total_seconds()) + 1


class WeixinXmlError(ValueError):
    """The body is not an acceptable WeChat XML message."""


def parse_weixin_xml(body: bytes) -> dict[str, str]:
    """The flat ``<xml><Name>value</Name>…</xml>`` message as a dict (first occurrence of a name wins)."""
    if len(body) > MAX_BODY_BYTES:
        raise WeixinXmlError(_("The message is too large."))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WeixinXmlError(_("The message must be UTF-8.")) from exc
    if "\x00" in text or _DTD.search(text):
        raise WeixinXmlError(_("Document type declarations and entities are not accepted."))
    try:
        root = ET.fromstring(body, parser=ET.XMLParser(encoding="utf-8"))  # noqa: S314  (guarded above)
    except ET.ParseError as exc:
        raise WeixinXmlError(_("The message is not well-formed XML.")) from exc
    if root.tag != "xml":
        raise WeixinXmlError(_("The root element must be <xml>."))
    fields: dict[str, str] = {}
    for child in root:
        if isinstance(child.tag, str):
            fields.setdefault(child.tag, (child.text or "").strip())
    return fields


@dataclass(frozen=True)
class ScanEvent:
    """A signed "this WeChat user scanned this login ticket" event."""

    openid: str
    ticket: str


def scan_event_of(message: dict[str, str]) -> ScanEvent | None:
    """The login scan in a message, or ``None`` for anything else (other events, chat messages, foreign keys).

    ``SCAN``: a follower scanned, ``EventKey`` is the ticket. ``subscribe``: someone followed the
    account by scanning, ``EventKey`` is ``qrscene_`` + ticket (a plain follow has no key).
    """
    if message.get("MsgType", "").lower() != "event":
        return None
    kind, key = message.get("Event", "").lower(), message.get("EventKey", "")
    if kind == "subscribe":
        if not key.startswith(SUBSCRIBE_SCENE_PREFIX):
            return None
        key = key.removeprefix(SUBSCRIBE_SCENE_PREFIX)
    elif kind != "scan":
        return None
    openid = message.get("FromUserName", "")
    if not LOGIN_TICKET_PATTERN.fullmatch(key) or not _OPENID.fullmatch(openid):
        return None
    return ScanEvent(openid=openid, ticket=key)
