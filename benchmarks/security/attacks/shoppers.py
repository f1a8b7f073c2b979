"""One shopper account against another, the payment notify, scan login, staff links and the login form.

Shopper A is the victim, shopper B the attacker (both fresh per run, ``fixtures.py``); the staff user is a
fresh staff account. Each attack first checks the legitimate path works for its owner (A reads A's order,
A's browser opens A's cashier): otherwise a refusal would prove nothing.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from benchmarks.client import HttpRequest
from benchmarks.scenarios import SUCCESS, envelope_code
from benchmarks.security.attacks.common import data, expect
from benchmarks.security.context import Context, PreconditionFailed
from benchmarks.security.http import Answer, Browser
from benchmarks.security.registry import attack, check

GROUP = "shoppers"
TOKEN_PATH = "/api/v1/login/token"  # noqa: S105 - a path, not a password
ORDERS_PATH = "/api/v1/mall/orders"
NOTIFY_PATH = "/api/v1/alipay/alipay_notify_url"
# Each attack ordering for A its own goods (take limit 1 per activity), none the channel attacks' 9890001.
IDOR_GOODS, NOTIFY_GOODS = "9890002", "9890003"


def token(ctx: Context, role: str) -> str:
    user = ctx.users[role]
    answer = ctx.http.post_json(
        TOKEN_PATH, {"username": user["username"], "password": user["password"]}, note=f"{role} logs in"
    )
    value = data(answer).get("token")
    if envelope_code(answer) != SUCCESS or not isinstance(value, str):
        raise PreconditionFailed(f"{role} cannot log in: HTTP {answer.status} {answer.body[:200]!r}")
    return value


def auth(value: str) -> dict[str, str]:
    return {"Authorization": f"Token {value}"}


def browser_of(ctx: Context, role: str) -> Browser:
    user, browser = ctx.users[role], Browser(ctx.http)
    answer = browser.login("/login", user["username"], user["password"])
    if answer.status != 302 or "sessionid" not in browser.cookies:
        raise PreconditionFailed(f"{role}'s browser login failed: HTTP {answer.status}")
    return browser


def order_of_a(ctx: Context, a_token: str, goods_id: str) -> dict[str, Any]:
    """Shopper A orders (opens a team): the order as A sees it."""
    answer = ctx.http.post_json(ORDERS_PATH, {"goodsId": goods_id}, auth(a_token), note="A orders")
    order_id = data(answer).get("orderId")
    if envelope_code(answer) != SUCCESS or not isinstance(order_id, str):
        raise PreconditionFailed(f"shopper A cannot order: HTTP {answer.status} {answer.body[:200]!r}")
    return a_reads(ctx, a_token, order_id)


def a_reads(ctx: Context, a_token: str, order_id: str) -> dict[str, Any]:
    answer = ctx.http.get(f"{ORDERS_PATH}/{order_id}", auth(a_token), note="A reads A's order")
    if envelope_code(answer) != SUCCESS:
        raise PreconditionFailed(f"shopper A cannot read A's order: HTTP {answer.status} {answer.body[:200]!r}")
    return data(answer)


@attack("shopper IDOR", group=GROUP)
def shopper_idor(ctx: Context) -> None:
    """HTTP 404 for shopper B reading or refunding A's order, and for B's browser on A's cashier and sandbox pages"""
    a_token, b_token = token(ctx, "shopper_a"), token(ctx, "shopper_b")
    before = order_of_a(ctx, a_token, IDOR_GOODS)
    order_id = before["orderId"]
    a_browser, b_browser = browser_of(ctx, "shopper_a"), browser_of(ctx, "shopper_b")
    control = a_browser.get(f"/cashier/{order_id}", note="A opens A's cashier")
    if control.status != 200:
        raise PreconditionFailed(f"A cannot open A's own cashier: HTTP {control.status}")
    answers = {
        "api read": ctx.http.get(f"{ORDERS_PATH}/{order_id}", auth(b_token), note="B reads A's order"),
        "api refund": ctx.http.send(
            HttpRequest("POST", f"{ORDERS_PATH}/{order_id}/refund", auth(b_token)), note="B refunds A's order"
        ),
        "cashier page": b_browser.get(f"/cashier/{order_id}", note="B opens A's cashier"),
        "sandbox page": b_browser.get(f"/pay/sandbox/{order_id}", note="B opens A's sandbox cashier"),
    }
    after = a_reads(ctx, a_token, order_id)
    check(
        after["status"] == before["status"],
        "shopper B changed A's order",
        before=before["status"],
        after=after["status"],
    )
    wrong = {what: answer.status for what, answer in answers.items() if answer.status != 404}
    check(not wrong, "shopper B reached A's order", statuses=wrong)


def notify_fields(order: dict[str, Any], *, amount: str, sign: str) -> dict[str, str]:
    return {
        "app_id": "2021000000000000",
        "out_trade_no": order["orderId"],
        "trade_no": f"2026{secrets.token_hex(8)}",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": amount,
        "notify_id": secrets.token_hex(8),
        "gmt_payment": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "sign_type": "RSA2",
        "sign": sign,
    }


@attack("forged payment notify", group=GROUP)
def forged_notify(ctx: Context) -> None:
    """plain ``fail`` for a notify with a bad RSA2 sign, or a well-formed forged sign and a tampered amount; unpaid"""
    a_token = token(ctx, "shopper_a")
    order = order_of_a(ctx, a_token, NOTIFY_GOODS)
    forged = base64.b64encode(secrets.token_bytes(256)).decode()  # the shape of an RSA-2048 signature
    for note, fields in (
        ("bad sign", notify_fields(order, amount=order["payAmount"], sign="bad")),
        ("well-formed sign, amount 0.01", notify_fields(order, amount="0.01", sign=forged)),
    ):
        request = HttpRequest(
            "POST", NOTIFY_PATH, {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(fields).encode()
        )
        answer = ctx.http.send(request, note=note)
        check(
            answer.status < 500 and answer.body.strip() == b"fail",
            f"the forged notify ({note}) was not refused",
            status=answer.status,
            body=answer.body[:100].decode("utf-8", "replace"),
        )
    after = a_reads(ctx, a_token, order["orderId"])
    check(
        after["status"] == order["status"] and after.get("payTime") is None,
        "a forged notify paid the order",
        before=order["status"],
        after=after["status"],
    )


@attack("login CSRF via scan ticket", group=GROUP)
def login_csrf(ctx: Context) -> None:
    """a ticket issued to browser 1, confirmed by the attacker, polled by browser 2: waiting, no token, not logged in"""
    first = Browser(ctx.http)
    issued = first.get("/api/v1/login/weixin_qrcode_ticket", note="browser 1 asks for a ticket")
    ticket = data(issued).get("ticket")
    if envelope_code(issued) != SUCCESS or not isinstance(ticket, str):
        raise PreconditionFailed(f"no ticket issued: HTTP {issued.status} {issued.body[:200]!r}")
    confirm = ctx.http.post_json(
        "/api/v1/login/confirm",
        {"ticket": ticket},
        auth(token(ctx, "shopper_b")),
        note="the attacker confirms the ticket with its own account",
    )
    if envelope_code(confirm) != SUCCESS:
        raise PreconditionFailed(f"the attacker could not confirm: HTTP {confirm.status} {confirm.body[:200]!r}")
    second = Browser(ctx.http)
    second.get("/login", note="browser 2 opens the site")
    poll = second.get(f"/api/v1/login/check_login?ticket={ticket}", note="browser 2 polls browser 1's ticket")
    orders = second.get("/orders", note="is browser 2 logged in?")
    logged_in = orders.status == 200
    seen = {key: "***" if key == "token" else value for key, value in data(poll).items()}
    check(
        not logged_in and "token" not in data(poll),
        "browser 2 was logged in as the attacker",
        poll=seen,
        orders_status=orders.status,
    )
    expect(poll, status=200, code=SUCCESS, what="the poll")
    check(data(poll).get("status") == "waiting", "browser 2 does not see 'waiting'", poll=seen)


@attack("DCC change by link", group=GROUP)
def dcc_by_link(ctx: Context) -> None:
    """HTTP 403 for a staff session's GET of update_config (a link in a mail); the value unchanged"""
    staff = Browser(ctx.http)
    user = ctx.users["staff"]
    login = staff.login("/admin/login/", user["username"], user["password"], next_url="/admin/")
    if login.status != 302 or "sessionid" not in staff.cookies:
        raise PreconditionFailed(f"the staff login failed: HTTP {login.status}")

    def value() -> str:
        answer = staff.get("/api/v1/gbm/dcc/config", note="staff reads DCC")
        if envelope_code(answer) != SUCCESS:
            raise PreconditionFailed(f"staff cannot read DCC: HTTP {answer.status} {answer.body[:200]!r}")
        return str(data(answer)["lockTimeoutMinutes"])

    before = value()
    changed_to = str(int(before) + 1)
    link = staff.get(
        f"/api/v1/gbm/dcc/update_config?key=lockTimeoutMinutes&value={changed_to}",
        note="the staff browser follows a link",
    )
    after = value()
    if after != before:  # put it back (with the very same hole) so later runs start from the default
        staff.get(f"/api/v1/gbm/dcc/update_config?key=lockTimeoutMinutes&value={before}", note="restore")
    check(after == before, "a GET with the staff session changed DCC", before=before, after=after)
    expect(link, status=403, code=("0403",), what="a DCC change by GET with a session")


@attack("API schema anonymous", group=GROUP)
def schema_anonymous(ctx: Context) -> None:
    """HTTP 401/403 for /api/schema/ without login (docs are staff-only in production); /api/docs/ refused too"""
    schema = ctx.http.get("/api/schema/", note="anonymous schema")
    check(schema.status in (401, 403), "the API schema is public", status=schema.status)
    docs: Answer = ctx.http.get("/api/docs/", note="anonymous Swagger UI")
    to_login = docs.status == 302 and "login" in docs.headers.get("location", "")
    check(docs.status in (401, 403) or to_login, "the API docs are public", status=docs.status)


@attack("password login throttle", group=GROUP)
def login_throttle(ctx: Context) -> None:
    """HTTP 429 0006 by the 6th wrong password for one account"""
    username = ctx.users["guessed"]["username"]
    answers = [
        ctx.http.post_json(TOKEN_PATH, {"username": username, "password": f"guess-{n}"}, note=f"guess {n}")
        for n in range(1, 7)
    ]
    last = answers[-1]
    expect(last, status=429, code="0006", what="the 6th wrong password")
