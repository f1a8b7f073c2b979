"""Request signing (api.md "Channel request signing"): what an attacker holding one channel's secret tries
against another channel, and a replay of a request it observed. Every answer is 401 with E0201/E0202/E0203."""

from __future__ import annotations

import time
from dataclasses import replace

from apps.channels.signing import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from benchmarks.client import HttpRequest
from benchmarks.scenarios import SUCCESS, envelope_code
from benchmarks.security.attacks.common import data, expect
from benchmarks.security.context import PING_PATH, REFUND_PATH, VICTIM, Context, compact, signed_request
from benchmarks.security.registry import attack, check

GROUP = "signing"


@attack("control: honest signed calls work", group=GROUP)
def control(ctx: Context) -> None:
    """0000 for a correctly signed ping of each channel (else every refusal below would prove nothing)"""
    for channel in (VICTIM, ctx.attacker):
        answer = ctx.post(PING_PATH, channel.names(), as_=channel, note=f"honest ping as {channel.source}")
        expect(answer, status=200, code=SUCCESS, what=f"an honest ping as {channel.source}")
        check(data(answer).get("source") == channel.source, "the ping names another channel", data=data(answer))


@attack("forged signature", group=GROUP)
def forged_signature(ctx: Context) -> None:
    """401 E0201: the victim's source/channel, signed with the attacker's own secret"""
    request = signed_request(PING_PATH, compact(VICTIM.names()), ctx.attacker.secret)
    expect(ctx.http.send(request), status=401, code="E0201", what="a ping as s01 signed with s03's secret")


@attack("tampered body", group=GROUP)
def tampered_body(ctx: Context) -> None:
    """401 E0201: a body changed after signing (another userId, same length)"""
    body = compact({**ctx.attacker.names(), "userId": "aaaaaaaa", "outTradeNo": ctx.uid("t")})
    request = signed_request(REFUND_PATH, body, ctx.attacker.secret)
    tampered = replace(request, body=body.replace(b"aaaaaaaa", b"bbbbbbbb"))
    expect(ctx.http.send(tampered), status=401, code="E0201", what="a refund body changed after signing")


@attack("missing signature headers", group=GROUP)
def missing_headers(ctx: Context) -> None:
    """401 E0201 when any one of X-GBM-Timestamp, X-GBM-Nonce, X-GBM-Signature is left out"""
    for header in (TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER):
        request = signed_request(PING_PATH, compact(ctx.attacker.names()), ctx.attacker.secret)
        stripped = replace(request, headers={k: v for k, v in request.headers.items() if k != header})
        expect(ctx.http.send(stripped, note=f"without {header}"), status=401, code="E0201", what=f"no {header}")


@attack("replayed nonce", group=GROUP)
def replayed_nonce(ctx: Context) -> None:
    """401 E0202 for the second send of the very same signed request"""
    request = signed_request(PING_PATH, compact(ctx.attacker.names()), ctx.attacker.secret)
    first = ctx.http.send(request, note="original")
    check(envelope_code(first) == SUCCESS, "the original request itself failed", status=first.status)
    expect(ctx.http.send(request, note="replay"), status=401, code="E0202", what="the replayed request")


@attack("skewed timestamp", group=GROUP)
def skewed_timestamp(ctx: Context) -> None:
    """401 E0202 for a timestamp 400 s in the past or in the future (allowed: ±300 s)"""
    for offset in (-400, 400):
        request = signed_request(
            PING_PATH, compact(ctx.attacker.names()), ctx.attacker.secret, timestamp=int(time.time()) + offset
        )
        expect(ctx.http.send(request, note=f"timestamp {offset:+d} s"), status=401, code="E0202", what=f"{offset:+d} s")


@attack("unknown channel", group=GROUP)
def unknown_channel(ctx: Context) -> None:
    """401 E0203 for a source/channel that does not exist"""
    request = signed_request(PING_PATH, compact({"source": "s99", "channel": "c99"}), ctx.attacker.secret)
    expect(ctx.http.send(request), status=401, code="E0203", what="a ping as s99/c99")


@attack("signature for another path", group=GROUP)
def another_path(ctx: Context) -> None:
    """401 E0201: headers signed for the ping, the same body sent to the refund endpoint"""
    body = compact({**ctx.attacker.names(), "userId": ctx.uid("u"), "outTradeNo": ctx.uid("o")})
    signed = signed_request(PING_PATH, body, ctx.attacker.secret)
    expect(
        ctx.http.send(HttpRequest("POST", REFUND_PATH, signed.headers, body)),
        status=401,
        code="E0201",
        what="a ping's signature on a refund",
    )
