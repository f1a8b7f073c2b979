"""One click on the goods page in a real browser (Debian's Chromium driven by Playwright): "Join the team closest to
full" seats the shopper in the fullest team, who pays there. Screenshots under test-artifacts/."""

import pytest

from apps.payments.models import PayOrder
from apps.payments.tests.browser import CHROMIUM_ARGS, PHONE, Walk, log_in, pay_at_cashier
from apps.payments.tests.helpers import create_order, user
from apps.trade.models import Team

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_shopper_completes_the_fullest_team_with_one_click(
    live_shop, mall_offer, chromium_path, monkeypatch, request
):
    playwright = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API keeps an event loop
    create_order("demo1", mall_offer.goods_id)  # a team with one member
    fullest = create_order("demo2", mall_offer.goods_id).team_id
    create_order("demo3", mall_offer.goods_id, team_id=fullest)  # two of three: one seat left
    user("xiaofuge")  # the factory's password: "pw"
    base = live_shop.url
    walk = Walk(request.node.name)
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="en-US", viewport=PHONE).new_page()
            log_in(page, base, "xiaofuge", "pw")
            page.goto(f"{base}/goods/{mall_offer.goods_id}")
            walk.shot(page, "goods")
            page.click("button.auto-join")
            page.wait_for_url("**/cashier/*")
            assert "You joined the team closest to full" in page.text_content("body")
            walk.shot(page, "cashier")
            pay_at_cashier(page)
            page.goto(f"{base}/teams/{fullest}")
            assert page.get_attribute("article.team-share", "data-team-id") == fullest
            assert "3/3 joined" in page.text_content("p.seats")
            walk.shot(page, "team")
        finally:
            browser.close()
    order = PayOrder.objects.get(user__username="xiaofuge")
    assert order.team_id == fullest and order.status == PayOrder.Status.PAY_SUCCESS
    assert Team.objects.get(team_id=fullest).lock_count == 3
