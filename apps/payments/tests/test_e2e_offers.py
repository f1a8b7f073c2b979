"""In a browser: the leader's price from the goods page to the cashier, and a new-customer team's Join refused
to a shopper who paid before (issue 17's leader offer and new-customer teams)."""

import pytest
from django.conf import settings
from django.test import Client

from apps.activities.models import Activity
from apps.activities.tests.factories import DiscountFactory
from apps.payments.models import PayOrder
from apps.payments.notify import payment_notify_handle
from apps.payments.tests.browser import CHROMIUM_ARGS
from apps.payments.tests.helpers import create_order, notify_params, user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def browse(live_shop, chromium_path, monkeypatch, username: str, path: str, steps) -> None:
    """Open ``path`` logged in as ``username`` in Chromium (English) and run ``steps(page)``."""
    playwright = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API keeps an event loop
    session, cookie = Client(), settings.SESSION_COOKIE_NAME
    session.force_login(user(username))
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="en-US")
            context.add_cookies([{"name": cookie, "value": session.cookies[cookie].value, "url": live_shop.url}])
            page = context.new_page()
            page.goto(f"{live_shop.url}{path}")
            steps(page, playwright.expect)
        finally:
            browser.close()


def test_a_leader_sees_and_pays_the_leader_price(live_shop, mall_offer, chromium_path, monkeypatch):
    leader = DiscountFactory.create(market_plan="ZJ", market_expr="10", discount_name="leader 10 off")
    Activity.objects.filter(pk=mall_offer.activity.pk).update(leader_discount=leader)

    def steps(page, expect):
        expect(page.locator(".leader-offer .leader-price")).to_have_text("¥70.00")
        expect(page.locator(".price .group-price")).to_have_text("¥80.00")  # what a joiner pays
        expect(page.locator("button.open-team")).to_contain_text("Open a team ¥70.00")
        page.click("button.open-team")
        page.wait_for_url("**/cashier/*")
        expect(page.locator("button.pay-button")).to_contain_text("Pay ¥70.00")

    browse(live_shop, chromium_path, monkeypatch, "xiaofuge", f"/goods/{mall_offer.goods_id}", steps)
    assert PayOrder.objects.get(user__username="xiaofuge").pay_amount == 70


def test_a_customer_who_paid_before_may_open_but_not_join(live_shop, mall_offer, chromium_path, monkeypatch):
    Activity.objects.filter(pk=mall_offer.activity.pk).update(new_customers_only=True, take_limit_count=2)
    assert payment_notify_handle(params=notify_params(create_order("xiaofuge", mall_offer.goods_id)))
    team_id = create_order("liergou", mall_offer.goods_id).team_id

    def steps(page, expect):
        team = page.locator(f'li.team[data-team-id="{team_id}"]')
        expect(team.locator(".join-refused")).to_have_text("Only new customers may join")
        expect(team.locator("button.join-team")).to_have_count(0)
        expect(page.locator("button.open-team")).to_be_visible()

    browse(live_shop, chromium_path, monkeypatch, "xiaofuge", f"/goods/{mall_offer.goods_id}", steps)
