"""HMAC-SHA256 signatures of the group-buy API (api.md: "Channel request signing" and "Callbacks we send").

Pure functions, no Django: the server (``apps.channels.authentication``), the tests, the benchmarks
and our outbound callbacks all sign with this one module, so the canonical string exists once.

Request (mall → us)::

    X-GBM-Signature = hex HMAC-SHA256(secret, METHOD "\\n" PATH "\\n" timestamp "\\n" nonce "\\n" raw_body)

Callback (us → mall)::

    X-GBM-Signature = hex HMAC-SHA256(secret, timestamp "\\n" raw_body)

Text parts are UTF-8 encoded; the body is used byte for byte, exactly as sent on the wire. PATH is
the URL path without the query string. Signatures are lowercase hex and compared in constant time.
"""

import hashlib
import hmac
import time
import uuid

TIMESTAMP_HEADER = "X-GBM-Timestamp"
NONCE_HEADER = "X-GBM-Nonce"
SIGNATURE_HEADER = "X-GBM-Signature"


def _hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _same(expected: str, given: str | None) -> bool:
    """Constant-time comparison; anything that is not a str (or not ASCII) simply does not match."""
    if not isinstance(given, str) or not given.isascii():
        return False
    return hmac.compare_digest(expected, given.lower())


def request_signature(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The signature a mall puts in ``X-GBM-Signature`` for one request."""
    head = f"{method.upper()}\n{path}\n{timestamp}\n{nonce}\n".encode()
    return _hmac_hex(secret, head + bytes(body))


def verify_request_signature(
    secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes, signature: str | None
) -> bool:
    """True when ``signature`` is the request's signature (hex, either case)."""
    return _same(request_signature(secret, method, path, timestamp, nonce, body), signature)


def signed_headers(
    secret: str,
    method: str,
    path: str,
    body: bytes | str = b"",
    *,
    timestamp: int | str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The three headers of a signed request: for clients, tests and benchmarks.

    ``timestamp`` defaults to now (unix seconds), ``nonce`` to a fresh uuid4 hex; a ``str`` body is
    UTF-8 encoded, so pass exactly the bytes you send.
    """
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = uuid.uuid4().hex if nonce is None else nonce
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return {
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: request_signature(secret, method, path, timestamp, nonce, raw),
    }


def callback_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The signature we put in ``X-GBM-Signature`` of a settlement or refund callback."""
    return _hmac_hex(secret, f"{timestamp}\n".encode() + bytes(body))


def verify_callback_signature(secret: str, timestamp: str, body: bytes, signature: str | None) -> bool:
    """What a callback receiver runs (our own mall receiver included). Freshness is its own policy."""
    return _same(callback_signature(secret, timestamp, body), signature)


def callback_headers(secret: str, body: bytes, *, timestamp: int | str | None = None) -> dict[str, str]:
    """``X-GBM-Timestamp`` and ``X-GBM-Signature`` of a callback (the caller adds ``X-GBM-Task``)."""
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: callback_signature(secret, timestamp, body)}
