"""Over a real server: the sandbox's notify travels by real HTTP (the default ``requests`` transport),
and a browser buys, pays and sees the order paid."""

import pytest
from django.conf import settings
from django.test import Client

from apps.payments.gateways.sandbox import sandbox_trade_pay
from apps.payments.models import PayOrder, SandboxTrade
from apps.payments.tests.browser import CHROMIUM_ARGS
from apps.payments.tests.helpers import NOTIFY_URL, create_order, user
from apps.trade.models import Order

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_sandbox_notify_reaches_the_handler_over_http(live_shop, mall_offer):
    order = create_order("xiaofuge", mall_offer.goods_id)
    trade = sandbox_trade_pay(order_id=order.order_id, user=user("xiaofuge"), notify_url=live_shop.url + NOTIFY_URL)
    trade.refresh_from_db()
    assert (trade.notify_status, trade.notify_attempts) == (SandboxTrade.NotifyStatus.DELIVERED, 1)
    order.refresh_from_db()
    assert order.status == PayOrder.Status.PAY_SUCCESS
    assert Order.objects.get(out_trade_no=order.order_id).status == Order.Status.PAID


def test_a_shopper_buys_and_pays_in_a_browser(live_shop, mall_offer, chromium_path, monkeypatch):
    playwright = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API keeps an event loop
    session, cookie = Client(), settings.SESSION_COOKIE_NAME
    session.force_login(user("xiaofuge"))
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="en-US")
            context.add_cookies([{"name": cookie, "value": session.cookies[cookie].value, "url": live_shop.url}])
            page = context.new_page()
            page.goto(f"{live_shop.url}/goods/{mall_offer.goods_id}")
            page.click("button.open-team")
            page.wait_for_url("**/cashier/*")
            countdown = page.locator(".deadline .countdown")
            page.wait_for_function(
                "el => /^\\d\\d:\\d\\d:\\d\\d$/.test(el.textContent)", arg=countdown.element_handle()
            )
            assert countdown.text_content().startswith(("00:14", "00:15"))
            page.click("button.pay-button")
            page.wait_for_selector("p.paid")
            assert "2 more people needed" in page.text_content("p.paid")
        finally:
            browser.close()
    assert PayOrder.objects.get(user__username="xiaofuge").status == PayOrder.Status.PAY_SUCCESS
