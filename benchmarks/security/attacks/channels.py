"""Channel isolation (api.md "Channel isolation"): the attacker channel ``s03`` holds its own secret only and
goes after the victim channel ``s01``'s teams, orders and users. The verified channel must be the caller for
the whole request; everything it reads or writes must be its own."""

from __future__ import annotations

import base64
import re

from benchmarks.scenarios import SUCCESS, envelope_code
from benchmarks.security.attacks.common import data, expect
from benchmarks.security.context import (
    GOODS,
    PING_PATH,
    REFUND_PATH,
    TRIAL_PATH,
    VICTIM,
    Context,
    PreconditionFailed,
    compact,
    signed_request,
)
from benchmarks.security.registry import attack, check

GROUP = "isolation"


def utf7_hide(text: str) -> str:
    """``text`` with every run of punctuation in UTF-7 base64 (``","`` -> ``+ACIALAAi-``): plain letters to a
    UTF-8 reader, the punctuation itself to a UTF-7 one."""
    return re.sub(
        r"[^A-Za-z0-9]+",
        lambda m: "+" + base64.b64encode(m.group().encode("utf-16-be")).decode().rstrip("=") + "-",
        text,
    )


def smuggled(payload: dict, hidden: dict[str, str]) -> bytes:
    """``payload`` as JSON with a last field ``x`` whose UTF-7 reading closes it and adds the ``hidden`` keys."""
    tail = "".join(f'","{key}":"{value}' for key, value in hidden.items())
    return compact(payload)[:-1] + b',"x":"' + utf7_hide(tail).encode() + b'"}'


@attack("charset smuggling", group=GROUP)
def charset_smuggling(ctx: Context) -> None:
    """HTTP 415 0002 for a refund signed as s03 whose UTF-7 reading says s01; the victim's order is not refunded"""
    user_id, out_trade_no, _team = ctx.open_victim_team("cs")
    body = smuggled({"userId": user_id, **ctx.attacker.names(), "outTradeNo": out_trade_no}, VICTIM.names())
    request = signed_request(REFUND_PATH, body, ctx.attacker.secret, content_type="application/json; charset=utf-7")
    answer = ctx.http.send(request, note="s03-signed refund, UTF-7 reading names s01")
    status = ctx.order_status(channel=VICTIM, out_trade_no=out_trade_no)
    check(
        status == 0,
        "the attacker refunded the victim's order (UTF-7 body read as s01, signature of s03)",
        victim_order_status=status,
        answer_code=envelope_code(answer),
        answer=data(answer),
    )
    expect(answer, status=415, code="0002", what="a body in charset=utf-7")


@attack("non-UTF-8 charset", group=GROUP)
def other_charsets(ctx: Context) -> None:
    """HTTP 415 0002 for a signed ping declared latin-1, utf-16, utf-7 or cp1252"""
    names = ctx.attacker.names()
    for charset, body in (
        ("latin-1", compact(names)),
        ("utf-16", compact(names).decode().encode("utf-16")),
        ("utf-7", compact(names)),
        ("cp1252", compact(names)),
    ):
        request = signed_request(
            PING_PATH, body, ctx.attacker.secret, content_type=f"application/json; charset={charset}"
        )
        expect(ctx.http.send(request, note=f"charset={charset}"), status=415, code="0002", what=f"charset={charset}")


@attack("duplicate JSON keys", group=GROUP)
def duplicate_keys(ctx: Context) -> None:
    """HTTP 400 0002 for a body naming source/channel twice, whichever channel comes last"""
    mine, theirs = ctx.attacker, VICTIM
    for first, last in ((theirs, mine), (mine, theirs)):
        body = (
            f'{{"source":"{first.source}","channel":"{first.channel}",'
            f'"source":"{last.source}","channel":"{last.channel}"}}'
        ).encode()
        request = signed_request(PING_PATH, body, ctx.attacker.secret)
        note = f"{first.source} then {last.source}, signed as {mine.source}"
        expect(ctx.http.send(request, note=note), status=400, code="0002", what=f"duplicate keys ({note})")


@attack("cross-channel trial teamList", group=GROUP)
def trial_team_list(ctx: Context) -> None:
    """the attacker's trial (same goods, the victim's userId) lists neither the victim's team nor its outTradeNo"""
    user_id, out_trade_no, team_id = ctx.open_victim_team("tl")
    for who in (user_id, ctx.uid("a")):
        payload = {"userId": who, **ctx.attacker.names(), "goodsId": GOODS}
        answer = ctx.post(TRIAL_PATH, payload, as_=ctx.attacker, note=f"s03 trial for {who}")
        if envelope_code(answer) != SUCCESS:
            raise PreconditionFailed(f"the attacker's own trial failed: HTTP {answer.status} {answer.body[:200]!r}")
        teams = data(answer).get("teamList") or []
        seen = [t for t in teams if t.get("teamId") == team_id or t.get("outTradeNo") == out_trade_no]
        check(
            not seen and out_trade_no.encode() not in answer.body,
            "the attacker's trial shows the victim channel's team",
            victim_team=team_id,
            listed=seen,
        )


@attack("cross-channel team_progress", group=GROUP)
def team_progress_of_victim(ctx: Context) -> None:
    """HTTP 400 0002 (no such team) for the attacker's team_progress of the victim's teamId"""
    _user, _otn, team_id = ctx.open_victim_team("tp")
    answer = ctx.progress(team_id, as_=ctx.attacker, note="s03 reads s01's team")
    expect(answer, status=400, code="0002", what="team_progress of another channel's team")


@attack("cross-channel join", group=GROUP)
def join_victim_team(ctx: Context) -> None:
    """E0002 for the attacker's lock joining the victim's teamId; the team's lockCount unchanged"""
    _user, _otn, team_id = ctx.open_victim_team("jn")
    answer = ctx.lock(
        as_=ctx.attacker, user_id=ctx.uid("a"), out_trade_no=ctx.uid("ao"), team_id=team_id, note="s03 joins s01's team"
    )
    lock_count = ctx.victim_team(team_id).get("lockCount")
    check(
        lock_count == 1,
        "the attacker took a seat in the victim channel's team",
        lock_count=lock_count,
        answer_code=envelope_code(answer),
    )
    expect(answer, status=200, code="E0002", what="joining another channel's team")


@attack("cross-channel take limit", group=GROUP)
def take_limit_of_victim_user(ctx: Context) -> None:
    """the victim can still lock after the attacker locked the victim's userId in the same activity (no E0103)"""
    user_id = ctx.uid("v")
    ctx.lock(as_=ctx.attacker, user_id=user_id, out_trade_no=ctx.uid("ao"), note="s03 locks s01's userId")
    answer = ctx.lock(as_=VICTIM, user_id=user_id, out_trade_no=ctx.uid("vo"), note="the victim locks")
    check(
        envelope_code(answer) == SUCCESS,
        "the attacker used up the victim user's take limit",
        victim_code=envelope_code(answer),
        victim_answer=data(answer) or answer.body[:200].decode("utf-8", "replace"),
    )


@attack("cross-channel refund and settle", group=GROUP)
def refund_settle_victim_order(ctx: Context) -> None:
    """E0104 for the attacker's settlement and refund of the victim's outTradeNo; the victim's order untouched"""
    user_id, out_trade_no, team_id = ctx.open_victim_team("rs")
    settle = ctx.settle(as_=ctx.attacker, user_id=user_id, out_trade_no=out_trade_no, note="s03 settles s01's order")
    refund = ctx.refund(as_=ctx.attacker, user_id=user_id, out_trade_no=out_trade_no, note="s03 refunds s01's order")
    status = ctx.order_status(channel=VICTIM, out_trade_no=out_trade_no)
    team = ctx.victim_team(team_id)
    check(
        status == 0 and team.get("lockCount") == 1 and team.get("completeCount") == 0,
        "the attacker changed the victim channel's order",
        victim_order_status=status,
        victim_team=team,
        settle_code=envelope_code(settle),
        refund_code=envelope_code(refund),
    )
    expect(settle, status=200, code="E0104", what="settling another channel's order")
    expect(refund, status=200, code="E0104", what="refunding another channel's order")


@attack("notifyUrl to a private address", group=GROUP)
def private_notify_url(ctx: Context) -> None:
    """HTTP 400 0002 for a lock whose notifyUrl is loopback, private or link-local (not allowed for s03)"""
    for url in (
        "http://127.0.0.1:9/callback",
        "http://localhost/callback",
        "http://10.0.0.1/callback",
        "http://169.254.169.254/latest/meta-data/",
    ):
        answer = ctx.lock(
            as_=ctx.attacker,
            user_id=ctx.uid("a"),
            out_trade_no=ctx.uid("ao"),
            notifyConfigVO={"notifyType": "HTTP", "notifyUrl": url},
            note=url,
        )
        expect(answer, status=400, code="0002", what=f"notifyUrl {url}")
