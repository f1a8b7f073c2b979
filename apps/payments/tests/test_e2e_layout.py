"""The shopper's pages hold at a phone's width: real Chromium at 390 px (and 1280 px) on /orders with every
kind of row, the cashier, the sandbox gateway and the 404 page; nothing scrolls sideways.

Every page's screenshot is kept under test-artifacts/ (CI keeps them), pass or fail."""

import pytest

from apps.payments.notify import payment_notify_handle
from apps.payments.tests.browser import ARTIFACTS, CHROMIUM_ARGS, log_in
from apps.payments.tests.helpers import create_order, notify_params

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WIDTHS = (390, 1280)


def test_orders_and_cashier_hold_at_390_px(live_demo, chromium_path, monkeypatch, request):
    playwright = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API keeps an event loop
    base = live_demo.url
    unpaid = create_order("xiaofuge")
    paid = create_order("xiaofuge", goods_id="9890002")
    assert payment_notify_handle(params=notify_params(paid))
    pages = {
        "orders": "/orders",
        "cashier-unpaid": f"/cashier/{unpaid.order_id}",
        "cashier-paid": f"/cashier/{paid.order_id}",
        "sandbox": f"/pay/sandbox/{unpaid.order_id}",
        "not-found": "/goods/no-such-goods",
    }
    ARTIFACTS.mkdir(exist_ok=True)
    overflowing = {}
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            for locale in ("zh-CN", "en-US"):
                for width in WIDTHS:
                    page = browser.new_context(locale=locale, viewport={"width": width, "height": 844}).new_page()
                    log_in(page, base, "xiaofuge")
                    for name, path in pages.items():
                        page.goto(base + path)
                        shot = ARTIFACTS / f"{request.node.name}-{name}-{locale}-{width}.png"
                        page.screenshot(path=str(shot), full_page=True)
                        scroll_width = page.evaluate("document.documentElement.scrollWidth")
                        if scroll_width > width:
                            overflowing[f"{name} {locale} {width}"] = scroll_width
                    favicon = page.evaluate("document.querySelector('link[rel=icon]').href")
                    assert page.request.get(favicon).status == 200
                    page.context.close()
        finally:
            browser.close()
    assert overflowing == {}
