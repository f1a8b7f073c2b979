"""The team page and the goods page on a phone (390 px wide, Debian's Chromium via Playwright): no
horizontal overflow; the team shows its members as avatars and the missing seats as "?"; a visitor who is
not logged in sees the preview with "log in to join". Screenshots are kept under test-artifacts/."""

import pytest

from apps.payments.tests.browser import ARTIFACTS, CHROMIUM_ARGS, OVERFLOW, PHONE, log_in
from apps.payments.tests.helpers import create_order

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_team_page_holds_at_390_px_with_avatars_and_empty_seats(live_demo, chromium_path, monkeypatch):
    playwright = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API keeps an event loop
    base = live_demo.url
    order = create_order("xiaofuge")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            member = browser.new_context(locale="en-US", viewport=PHONE, device_scale_factor=1).new_page()
            log_in(member, base, "xiaofuge")
            member.goto(f"{base}/teams/{order.team_id}")
            member.screenshot(path=str(ARTIFACTS / "team-page-390-member.png"), full_page=True)
            assert member.evaluate(OVERFLOW) == 0
            assert member.locator(".team-seats .seat.member .seat-avatar").all_text_contents() == ["X"]
            assert member.locator(".team-seats .empty-seat .seat-avatar").all_text_contents() == ["?", "?"]
            assert member.locator(".team-progress span").is_visible()
            assert member.locator("button.share-button").is_visible()
            assert member.text_content(".team-waiting .countdown").count(":") == 2

            member.goto(f"{base}/goods/9890001")
            member.screenshot(path=str(ARTIFACTS / "goods-page-390-member.png"), full_page=True)
            assert member.evaluate(OVERFLOW) == 0

            visitor = browser.new_context(locale="en-US", viewport=PHONE, device_scale_factor=1).new_page()
            visitor.goto(f"{base}/teams/{order.team_id}")
            visitor.screenshot(path=str(ARTIFACTS / "team-page-390-visitor.png"), full_page=True)
            assert visitor.evaluate(OVERFLOW) == 0
            assert visitor.locator(".team-seats .seat-avatar").count() == 3
            visitor.click("a.login-to-join")
            visitor.wait_for_url("**/login?next=*")
            visitor.fill("section.password-login input[name=username]", "liergou")
            visitor.fill("section.password-login input[name=password]", "demo")
            visitor.click("section.password-login button[type=submit]")
            visitor.wait_for_url(f"**/teams/{order.team_id}")
            assert visitor.locator("button.join-team").is_visible()
        finally:
            browser.close()
