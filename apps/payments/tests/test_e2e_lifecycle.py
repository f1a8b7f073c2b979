"""A team's whole life in a phone-sized browser, on what `make run` serves: the real embedded server
(``manage.py run_embedded``: SQLite, fakeredis, eager Celery, the in-process beat) in a subprocess, and
Debian's Chromium at 390 px in English.

* open -> pay -> join x2 -> complete: demo1 opens a team and pays at the sandbox cashier; demo2 and demo3
  open the shared link, log in, join and pay; all three see the team complete on the team page and /orders.
* open -> pay -> expire -> refunded: demo4 opens a team and pays; the team's deadline is moved into the past
  in the server's SQLite file (as 15 minutes would: the only change behind the server's back); the embedded
  beat fails the team and the refund runs through the production code paths; demo4 sees "Refunded ¥80.00"
  on /orders and the failed state on the team page.

Each page visited is checked for sideways scrolling and kept as test-artifacts/<test name>/NN-<page>.png.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from apps.common.tests.embedded import Embedded, embedded_server
from apps.payments.tests.browser import CHROMIUM_ARGS, PHONE, Walk, submit_login

pytestmark = [pytest.mark.slow]

SPEEDUP = 30  # trade timeouts every 1 s, the notify sweep every 0.5 s
WAIT_MS = 20_000  # the longest any page condition may take (the sandbox notify, the refund)
GOODS = "9890001"  # ¥100.00, ¥20 off in a team of 3


@pytest.fixture(scope="module")
def embedded(tmp_path_factory) -> Iterator[Embedded]:
    with embedded_server(tmp_path_factory.mktemp("lifecycle"), speedup=SPEEDUP, NOTIFY_BACKOFF_SECONDS="1") as server:
        yield server


@pytest.fixture
def phone(chromium_path) -> Iterator[Callable]:
    """``phone()``: a new shopper's page (own cookies) at 390 x 844 in English."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:

            def new_page():
                context = browser.new_context(locale="en-US", viewport=PHONE, device_scale_factor=1)
                context.set_default_timeout(WAIT_MS)
                return context.new_page()

            yield new_page
        finally:
            browser.close()


@pytest.fixture
def walk(request) -> Walk:
    return Walk(request.node.name)


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def until_shown(page, selector: str, text: str, *, server: Embedded, timeout: float = WAIT_MS / 1000) -> None:
    """Reload ``page`` until ``selector`` shows ``text``: a page that does not refresh itself, waiting on
    background work (the beat, the refund)."""
    deadline = time.monotonic() + timeout
    while True:
        if text in (page.locator(selector).first.text_content(timeout=1000) or ""):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{selector} never showed {text!r}; server log:\n{server.log_tail()}")
        time.sleep(0.5)
        page.reload()


@contextmanager
def step(what: str, server: Embedded) -> Iterator[None]:
    """A failed expectation says which step of the walk it was, with the server's log."""
    try:
        yield
    except AssertionError as exc:
        raise AssertionError(f"{what}: {exc}\nserver log:\n{server.log_tail()}") from exc


def log_in_from(page, walk: Walk, username: str) -> None:
    walk.shot(page, "login")
    expect(page.locator("section.password-login")).to_contain_text("Log in with a password")
    submit_login(page, username)


def pay_on_cashier(page, walk: Walk, *, name: str) -> None:
    """At the mall's cashier: press Pay (the sandbox gateway) and wait for the asynchronous notify's effect."""
    expect(page.locator("article.cashier")).to_have_attribute("data-state", "awaiting_payment")
    expect(page.locator(".cashier .status")).to_have_text("Waiting for payment")
    walk.shot(page, f"cashier-{name}")
    page.click("button.pay-button")
    # "Confirming payment" reloads itself every few seconds until the notify is applied.
    expect(page.locator("article.cashier")).not_to_have_attribute(
        "data-state", re.compile("awaiting_payment|confirming")
    )


def test_open_pay_join_twice_complete_on_a_phone(phone, embedded, walk):
    base = embedded.url
    leader = phone()
    with step("demo1 logs in", embedded):
        leader.goto(f"{base}/login")
        log_in_from(leader, walk, "demo1")
    with step("demo1 opens a team", embedded):
        leader.goto(f"{base}/goods/{GOODS}")
        expect(leader.locator("button.open-team")).to_contain_text("Open a team ¥80.00")
        expect(leader.locator("button.buy-alone")).to_contain_text("Buy alone at full price ¥100.00")
        walk.shot(leader, "goods")
        leader.click("button.open-team")
        leader.wait_for_url("**/cashier/*")
        expect(leader.locator(".cashier .status")).to_have_text("Waiting for payment")
        walk.shot(leader, "cashier-demo1")
    with step("demo1 pays at the sandbox cashier", embedded):
        leader.click("a[href*='/pay/sandbox/']")
        expect(leader.locator("article.sandbox-cashier h1")).to_have_text("Sandbox payment gateway")
        expect(leader.locator(".sandbox-cashier button.pay-button")).to_have_text("Pay ¥80.00")
        walk.shot(leader, "sandbox-cashier")
        leader.click("button.pay-button")
        leader.wait_for_url("**/cashier/*")
        expect(leader.locator("article.cashier")).to_have_attribute("data-state", "waiting_for_team")
        expect(leader.locator(".cashier .status")).to_have_text("Paid, waiting for the team")
        expect(leader.locator(".cashier .state-words")).to_contain_text("2 more people needed")
        walk.shot(leader, "cashier-demo1-paid")
    with step("demo1 opens the team page to share it", embedded):
        leader.click("a.action-invite")
        leader.wait_for_url("**/teams/*")
        team = leader.locator("article.team-share")
        expect(team).to_have_attribute("data-state", "waiting")
        expect(leader.locator(".team-share .seats")).to_have_text("1/3 joined")
        expect(leader.locator(".team-waiting")).to_contain_text("2 seats left")
        expect(leader.locator("p.invite")).to_contain_text("Invite 2 more friends")
        walk.shot(leader, "team-demo1-waiting")
        team_url = leader.url

    for number, username in enumerate(("demo2", "demo3"), start=2):
        friend = phone()
        with step(f"{username} opens the shared link, logs in and joins", embedded):
            friend.goto(team_url)
            expect(friend.locator("a.login-to-join")).to_have_text("Log in to join")
            expect(friend.locator(".team-share .seats")).to_have_text(f"{number - 1}/3 joined")
            walk.shot(friend, f"team-preview-{username}")
            friend.click("a.login-to-join")
            friend.wait_for_url("**/login?next=*")
            log_in_from(friend, walk, username)
            friend.wait_for_url(team_url)
            expect(friend.locator("button.join-team")).to_have_text("Join")
            walk.shot(friend, f"team-{username}-before-join")
            friend.click("button.join-team")
            friend.wait_for_url("**/cashier/*")
        with step(f"{username} pays", embedded):
            pay_on_cashier(friend, walk, name=username)
            last = number == 3
            expect(friend.locator(".cashier .status")).to_have_text(
                "Team complete" if last else "Paid, waiting for the team"
            )
            walk.shot(friend, f"cashier-{username}-paid")
        if not last:
            friend.context.close()
    shoppers = {"demo1": leader, "demo3": friend, "demo2": phone()}
    shoppers["demo2"].goto(f"{base}/login")
    log_in_from(shoppers["demo2"], walk, "demo2")

    for username, page in shoppers.items():
        with step(f"{username} sees the team complete", embedded):
            page.goto(team_url)
            expect(page.locator("article.team-share")).to_have_attribute("data-state", "complete")
            expect(page.locator(".team-outcome.success .outcome-title")).to_have_text("Team complete!")
            expect(page.locator(".team-share .seats")).to_have_text("3/3 joined")
            expect(page.locator("button.share-button")).to_have_count(0)  # no share prompt once complete
            expect(page.locator("p.invite")).to_have_count(0)
            walk.shot(page, f"team-{username}-complete")
            page.goto(f"{base}/orders")
            row = page.locator("li.order-row").first
            expect(row).to_have_attribute("data-state", "team_complete")
            expect(row.locator(".state-label")).to_have_text("Team complete")
            expect(row.locator(".amount")).to_have_text("¥80.00")
            walk.shot(page, f"orders-{username}")


def test_open_pay_expire_refunded_on_a_phone(phone, embedded, walk):
    base = embedded.url
    page = phone()
    with step("demo4 logs in and opens a team", embedded):
        page.goto(f"{base}/goods/{GOODS}")
        walk.shot(page, "goods-visitor")
        page.click("a.login-link")
        page.wait_for_url("**/login?next=**")
        log_in_from(page, walk, "demo4")
        page.wait_for_url(f"**/goods/{GOODS}")
        walk.shot(page, "goods")
        page.click("button.open-team")
        page.wait_for_url("**/cashier/*")
    with step("demo4 pays", embedded):
        pay_on_cashier(page, walk, name="demo4")
        expect(page.locator(".cashier .status")).to_have_text("Paid, waiting for the team")
        walk.shot(page, "cashier-paid")
        page.click("a.action-invite")
        page.wait_for_url("**/teams/*")
        expect(page.locator("article.team-share")).to_have_attribute("data-state", "waiting")
        walk.shot(page, "team-waiting")
        team_id = page.locator("article.team-share").get_attribute("data-team-id")
        team_url = page.url

    # The deadline passes (as 15 minutes would): nothing else is done; the embedded beat takes it from here.
    now = datetime.now(UTC).replace(tzinfo=None)
    embedded.query(
        "UPDATE group_buy_order SET valid_start_time = ?, valid_end_time = ? WHERE team_id = ?",
        str(now - timedelta(minutes=15)), str(now - timedelta(seconds=1)), team_id,
    )  # fmt: skip

    with step("demo4 sees the refund on /orders", embedded):
        page.goto(f"{base}/orders")
        until_shown(page, "li.order-row .state-label", "Refunded ¥80.00", server=embedded)
        row = page.locator("li.order-row").first
        expect(row).to_have_attribute("data-state", "team_failed_refunded")
        expect(row.locator(".state-detail")).to_contain_text("The team did not fill before")
        expect(row.locator(".state-detail")).to_contain_text("¥80.00 was refunded on")
        expect(row.locator("a.action-new-team")).to_have_text("Open a new team")
        walk.shot(page, "orders-refunded")
    with step("demo4 sees the failed team", embedded):
        page.goto(team_url)
        expect(page.locator("article.team-share")).to_have_attribute("data-state", "failed")
        expect(page.locator(".team-outcome.failed .outcome-title")).to_have_text("This team did not fill in time.")
        expect(page.locator(".team-outcome .refund-note")).to_have_text(
            re.compile(r"^¥80\.00 was refunded to you on \d{4}-\d\d-\d\d \d\d:\d\d\.$")
        )
        expect(page.locator("button.share-button")).to_have_count(0)
        walk.shot(page, "team-failed")
