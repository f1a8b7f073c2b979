"""The analytics page in real Chromium: staff log in to admin, pick the days, and the five charts draw from our
static Chart.js (no CDN); the screenshot is kept under test-artifacts/ (CI keeps the folder)."""

import pytest

from apps.accounts.tests.factories import StaffFactory
from apps.analytics.tests.data import known_data
from apps.payments.tests.browser import ARTIFACTS, CHROMIUM_ARGS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_staff_see_the_figures_and_charts(live_server, chromium_path, monkeypatch, request):
    playwright = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API keeps an event loop
    data = known_data()
    staff = StaffFactory.create(is_superuser=True)
    staff.set_password("analytics-pass")
    staff.save()
    base = live_server.url
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900}).new_page()
            outside = []
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base) else None)
            page.goto(f"{base}/admin/analytics/report/")
            page.fill("#id_username", staff.username)
            page.fill("#id_password", "analytics-pass")
            page.click("input[type=submit]")
            page.wait_for_url(lambda url: "/login" not in url)
            page.fill("#id_start", "2025-03-01")
            page.fill("#id_end", "2025-03-03")
            page.click("text=Show")
            page.wait_for_function("document.querySelectorAll('canvas[data-drawn]').length === 5")
            assert page.evaluate("typeof window.Chart") == "function"
            assert page.inner_text("#analytics-total tbody td:first-child") == "19"  # trials
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-all.png"), full_page=True)
            page.click(f"#analytics-activities >> text={data.a.activity_name}")
            page.wait_for_function("document.querySelectorAll('canvas[data-drawn]').length === 5")
            assert "Activity A" in page.inner_text(".breadcrumbs")
            assert page.inner_text("#analytics-total tbody td:first-child") == "15"
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-activity.png"), full_page=True)
            assert outside == []  # charts and scripts from our own origin only
        finally:
            browser.close()
