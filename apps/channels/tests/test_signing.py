"""The signing functions against vectors computed outside Python.

Every expected value below was computed with OpenSSL, not with this module, e.g.::

    printf 'POST\\n/api/v1/gbm/trade/lock_market_pay_order\\n1700000000\\n5f0c1a2b3c4d\\n{"userId":"xiaofuge",
    "source":"s01","channel":"c01"}' | openssl dgst -sha256 -hmac 'demo-secret-s01c01'

(one line, no trailing newline: printf adds none, and the body is the last part of the signed text).
"""

import pytest

from apps.channels.signing import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    callback_headers,
    callback_signature,
    request_signature,
    signed_headers,
    verify_callback_signature,
    verify_request_signature,
)

SECRET = "demo-secret-s01c01"
LOCK_PATH = "/api/v1/gbm/trade/lock_market_pay_order"
LOCK_BODY = b'{"userId":"xiaofuge","source":"s01","channel":"c01"}'
# openssl: see the module docstring.
LOCK_SIGNATURE = "cd765ec71ddf3aae08f27bbe6c32eef78241b210d9e74b76d8e9f7a7e6385c96"
# printf 'GET\n/api/v1/gbm/trade/team_progress\n1700000000\nabc\n' | openssl dgst -sha256 -hmac 'demo-secret-s01c01'
PROGRESS_SIGNATURE = "aa3450e5ec71e1a7ed1da83df47431c3af741d5102074929a0a3d3b5a0eb1780"
CALLBACK_BODY = b'{"teamId":"12345678","outTradeNoList":["100000000001"]}'
# printf '1700000000\n{"teamId":"12345678","outTradeNoList":["100000000001"]}' | openssl dgst -sha256 \
#   -hmac 'demo-secret-s01c01'
CALLBACK_SIGNATURE = "02203d709b82adfb38df7fb630f34a839210c359181f56701e9899fa9716b613"
# printf 'POST\n/p\n1\nn\n\xe6\x8b\xbc\xe5\x9b\xa2' | openssl dgst -sha256 -hmac '秘密'   (UTF-8 shell)
UTF8_SIGNATURE = "f6629fc7db3cd49e0675663ca42f9ba2027699487ddb57563b68bdb532988bd7"


def test_request_signature_matches_openssl_vector():
    assert request_signature(SECRET, "POST", LOCK_PATH, "1700000000", "5f0c1a2b3c4d", LOCK_BODY) == LOCK_SIGNATURE


def test_get_signature_signs_an_empty_body_and_method_is_upper_cased():
    path = "/api/v1/gbm/trade/team_progress"
    assert request_signature(SECRET, "GET", path, "1700000000", "abc", b"") == PROGRESS_SIGNATURE
    assert request_signature(SECRET, "get", path, "1700000000", "abc", b"") == PROGRESS_SIGNATURE


def test_secret_and_body_are_utf8_bytes():
    assert request_signature("秘密", "POST", "/p", "1", "n", "拼团".encode()) == UTF8_SIGNATURE


def test_callback_signature_matches_openssl_vector():
    assert callback_signature(SECRET, "1700000000", CALLBACK_BODY) == CALLBACK_SIGNATURE
    assert verify_callback_signature(SECRET, "1700000000", CALLBACK_BODY, CALLBACK_SIGNATURE)


@pytest.mark.parametrize(
    "change",
    [
        {"secret": "other-secret"},
        {"method": "PUT"},
        {"path": LOCK_PATH + "?x=1"},
        {"timestamp": "1700000001"},
        {"nonce": "5f0c1a2b3c4e"},
        {"body": LOCK_BODY + b" "},
    ],
    ids=lambda change: next(iter(change)),
)
def test_every_part_is_signed(change):
    parts = {
        "secret": SECRET,
        "method": "POST",
        "path": LOCK_PATH,
        "timestamp": "1700000000",
        "nonce": "5f0c1a2b3c4d",
        "body": LOCK_BODY,
    }
    parts.update(change)
    assert not verify_request_signature(*parts.values(), LOCK_SIGNATURE)


@pytest.mark.parametrize(
    "signature",
    [LOCK_SIGNATURE, LOCK_SIGNATURE.upper()],
    ids=["lower", "upper"],
)
def test_verify_accepts_the_signature_in_either_case(signature):
    assert verify_request_signature(SECRET, "POST", LOCK_PATH, "1700000000", "5f0c1a2b3c4d", LOCK_BODY, signature)


@pytest.mark.parametrize("signature", [None, "", "zz", LOCK_SIGNATURE[:-1], "é" * 64, b"bytes"])
def test_verify_rejects_junk_without_raising(signature):
    assert not verify_request_signature(SECRET, "POST", LOCK_PATH, "1700000000", "5f0c1a2b3c4d", LOCK_BODY, signature)
    assert not verify_callback_signature(SECRET, "1700000000", CALLBACK_BODY, signature)


def test_signed_headers_sign_what_they_say():
    headers = signed_headers(SECRET, "POST", LOCK_PATH, LOCK_BODY, timestamp=1700000000, nonce="5f0c1a2b3c4d")
    assert headers == {
        TIMESTAMP_HEADER: "1700000000",
        NONCE_HEADER: "5f0c1a2b3c4d",
        SIGNATURE_HEADER: LOCK_SIGNATURE,
    }
    assert signed_headers(SECRET, "POST", LOCK_PATH, LOCK_BODY.decode(), timestamp=1700000000, nonce="5f0c1a2b3c4d")[
        SIGNATURE_HEADER
    ] == (LOCK_SIGNATURE)


def test_signed_headers_default_to_now_and_a_fresh_uuid_nonce(monkeypatch):
    monkeypatch.setattr("apps.channels.signing.time.time", lambda: 1700000000.9)
    first = signed_headers(SECRET, "GET", "/x")
    second = signed_headers(SECRET, "GET", "/x")
    assert first[TIMESTAMP_HEADER] == "1700000000"
    assert len(first[NONCE_HEADER]) == 32 and int(first[NONCE_HEADER], 16) >= 0
    assert first[NONCE_HEADER] != second[NONCE_HEADER]
    assert verify_request_signature(
        SECRET, "GET", "/x", first[TIMESTAMP_HEADER], first[NONCE_HEADER], b"", first[SIGNATURE_HEADER]
    )


def test_callback_headers():
    assert callback_headers(SECRET, CALLBACK_BODY, timestamp=1700000000) == {
        TIMESTAMP_HEADER: "1700000000",
        SIGNATURE_HEADER: CALLBACK_SIGNATURE,
    }
