"""Hostile input on every signed endpoint: what a fuzzing attacker (with or without the channel's secret) sends.

Safe answer: a JSON envelope, never a 5xx, never an HTML page, never success. Decision: the spec answers a
business rejection with HTTP 200 and its E-code (a huge but well-formed ``activityId`` has "no group-buy
configuration", E0002), so a 200 with an E-code counts as refused, as does any 4xx with the envelope.
Bodies the attacker can sign are signed with its own secret, so they reach the view, not only the signature
check.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from apps.channels.signing import signed_headers
from benchmarks.client import HttpRequest
from benchmarks.scenarios import LOCK_PATH, SETTLE_PATH, SUCCESS
from benchmarks.security.context import PING_PATH, PROGRESS_PATH, REFUND_PATH, TRIAL_PATH, Context, signed_request
from benchmarks.security.http import Answer
from benchmarks.security.registry import attack, check

GROUP = "hostile"
POST_ENDPOINTS = (PING_PATH, TRIAL_PATH, LOCK_PATH, SETTLE_PATH, REFUND_PATH)
HUGE = 10**40
DEPTH = 100_000


def hostile_bodies(names: dict[str, str]) -> list[tuple[str, bytes, bool]]:
    """(what, body, sign it): bodies that break parsers, types and limits."""
    head = json.dumps(names)[:-1]  # '{"source": "s03", "channel": "c03"' without the closing brace
    arrays, objects = "[" * DEPTH + "]" * DEPTH, '{"a":' * DEPTH + "1" + "}" * DEPTH
    return [
        ("2 MB body", f'{head}, "userId": "{"x" * (2 * 1024 * 1024)}"}}'.encode(), True),
        ("nested arrays", f'{head}, "userId": {arrays}}}'.encode(), True),
        ("nested objects", f'{head}, "userId": {objects}}}'.encode(), True),
        ("array body", b"[]", False),
        ("string body", b'"s03"', False),
        ("number body", b"1e999", False),
        ("null body", b"null", False),
        ("empty body", b"", False),
        ("not JSON", b"source=s03&channel=c03", False),
        ("invalid UTF-8", head.encode() + b', "userId": "\xff\xfe\xc3("}', True),
        (
            "escaped NUL",
            f'{head}, "userId": "a\\u0000b", "outTradeNo": "o\\u0000", "goodsId": "\\u0000"}}'.encode(),
            True,
        ),
        ("raw NUL byte", head.encode() + b', "userId": "a\x00b"}', True),
        (
            "huge integers",
            json.dumps(
                {**names, "userId": HUGE, "activityId": HUGE, "goodsId": HUGE, "teamId": HUGE, "outTradeNo": HUGE}
            ).encode(),
            True,
        ),
        ("huge float", json.dumps({**names, "activityId": 1e308, "userId": "u"}).encode(), True),
        (
            "wrong types",
            json.dumps(
                {
                    **names,
                    "userId": ["u"],
                    "activityId": "one",
                    "goodsId": {"a": 1},
                    "outTradeNo": True,
                    "teamId": [1],
                    "outTradeTime": 5,
                    "notifyConfigVO": "HTTP",
                    "notifyUrl": ["x"],
                }
            ).encode(),
            True,
        ),
        ("source not a string", json.dumps({"source": ["s03"], "channel": {"c": "c03"}}).encode(), False),
        ("lone surrogate", f'{head}, "userId": "\\ud800", "outTradeNo": "\\udfff"}}'.encode(), True),
    ]


def hostile_queries(names: dict[str, str]) -> list[tuple[str, str]]:
    source, channel = names["source"], names["channel"]
    base = f"source={source}&channel={channel}"
    return [
        ("long teamId", f"{base}&teamId={'9' * 2000}"),
        ("NUL teamId", f"{base}&teamId=1234%00567"),
        ("huge teamId", f"{base}&teamId={HUGE}"),
        ("invalid UTF-8", f"{base}&teamId=%FF%FE"),
        ("repeated source", f"source={source}&source=s01&channel={channel}&teamId=12345678"),
        ("no parameters", ""),
        ("NUL source", f"source=s0%003&channel={channel}&teamId=12345678"),
        ("non-ASCII teamId", f"{base}&teamId={quote('一二三四五六七八')}"),
    ]


def judge(answer: Answer, *, may_succeed: bool = False) -> str | None:
    """What is wrong with the answer to hostile input (None: a safe refusal). ``may_succeed``: the ping, which
    reads nothing but source and channel, rightly accepts a signed object whatever its other fields hold."""
    if answer.status >= 500:
        return f"HTTP {answer.status}"
    content_type = answer.headers.get("content-type", "")
    if "json" not in content_type:
        return f"not JSON ({content_type or 'no content type'})"
    try:
        body: Any = json.loads(answer.body)
    except ValueError:
        return "a body that is not JSON"
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, str):
        return "not the envelope"
    if code == SUCCESS:
        return None if may_succeed else "accepted (0000)"
    if answer.status == 200 and not code.startswith("E"):
        return f"HTTP 200 with {code}"
    return None


@attack("hostile input", group=GROUP)
def hostile_input(ctx: Context) -> None:
    """4xx (or 200 with an E-code) and the JSON envelope on every signed endpoint: never 5xx, HTML or success"""
    names = ctx.attacker.names()
    problems: list[dict[str, Any]] = []
    for path in POST_ENDPOINTS:
        for what, body, sign in hostile_bodies(names):
            if sign:
                request = signed_request(path, body, ctx.attacker.secret)
            else:
                request = HttpRequest("POST", path, {"Content-Type": "application/json"}, body)
            answer = ctx.http.send(request, note=what)
            wrong = judge(answer, may_succeed=path == PING_PATH)
            if wrong:
                problems.append(
                    {
                        "path": path,
                        "input": what,
                        "problem": wrong,
                        "status": answer.status,
                        "body": answer.body[:200].decode("utf-8", "replace"),
                    }
                )
    for what, query in hostile_queries(names):
        headers = signed_headers(ctx.attacker.secret, "GET", PROGRESS_PATH, b"")
        answer = ctx.http.send(HttpRequest("GET", f"{PROGRESS_PATH}?{query}", headers), note=what)
        wrong = judge(answer)
        if wrong:
            problems.append(
                {
                    "path": PROGRESS_PATH,
                    "input": what,
                    "problem": wrong,
                    "status": answer.status,
                    "body": answer.body[:200].decode("utf-8", "replace"),
                }
            )
    check(not problems, f"{len(problems)} hostile inputs were not refused cleanly", problems=problems[:20])
