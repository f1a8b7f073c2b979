"""The inbox in a real browser (Debian's Chromium driven by Playwright), on a phone: a shopper opens a team, the
reminder job finds it about to expire, the bell shows 1, the inbox says so, and marking it read clears the bell.

Screenshots: test-artifacts/<test name>/ (the bell must not make the top bar scroll sideways)."""

from datetime import timedelta

import pytest

from apps.payments.reminders import team_reminders_run
from apps.payments.tests.browser import CHROMIUM_ARGS, PHONE, Walk, log_in
from apps.payments.tests.helpers import user
from apps.trade.models import Team

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_bell_rings_for_a_team_about_to_expire(live_shop, mall_offer, chromium_path, monkeypatch, request):
    playwright = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API keeps an event loop
    base = live_shop.url
    walk = Walk(request.node.name)
    user("xiaofuge")  # the factory's password: "pw"
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="en-US", viewport=PHONE).new_page()
            log_in(page, base, "xiaofuge", "pw")
            page.goto(f"{base}/goods/{mall_offer.goods_id}")
            assert page.get_attribute("a.inbox-bell", "data-unread") == "0"
            page.click("button.open-team")
            page.wait_for_url("**/cashier/*")
            team = Team.objects.get()

            assert team_reminders_run(now=team.valid_end_time - timedelta(minutes=4))["expiring"] == 1
            page.goto(f"{base}/orders")
            assert page.text_content("a.inbox-bell .inbox-count") == "1"
            walk.shot(page, "bell")

            page.click("a.inbox-bell")
            page.wait_for_url("**/inbox/")
            message = page.locator("li.inbox-message.unread")
            assert "about to expire" in message.locator(".inbox-title").text_content()
            assert "2 seats are still free" in message.locator(".inbox-body").text_content()
            walk.shot(page, "inbox")

            message.locator("form.inbox-read button").click()
            page.wait_for_selector("li.inbox-message.read")
            assert page.get_attribute("a.inbox-bell", "data-unread") == "0"
            assert page.locator("a.inbox-bell .inbox-count").count() == 0
            walk.shot(page, "read")

            page.click("li.inbox-message a")  # "See the team": the share page, to invite a friend
            page.wait_for_url(f"**/teams/{team.team_id}")
        finally:
            browser.close()
