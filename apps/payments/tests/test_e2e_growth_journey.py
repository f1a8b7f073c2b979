"""Issue 17 in one walk in real Chromium (Debian's, driven by Playwright), as shoppers and staff would take it:
a leader sees and pays the leader's price, two friends join with one click ("Join the team closest to full"), the
team forms, the reminder job rings the leader's bell, and staff read the activity's figures on the analytics page,
its charts drawn from our own static files. Screenshots under test-artifacts/<test name>/."""

import time

import pytest

from apps.accounts.tests.factories import StaffFactory
from apps.activities.models import Activity
from apps.activities.tests.factories import DiscountFactory
from apps.activities.trial_counts import trial_counts_flush, trial_counts_pending
from apps.payments.models import PayOrder
from apps.payments.reminders import team_reminders_run
from apps.payments.tests.browser import CHROMIUM_ARGS, PHONE, Walk, log_in, pay_at_cashier
from apps.payments.tests.helpers import user
from apps.trade.models import Team

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

STAFF_PASSWORD = "growth-walk-pass"


def show_open_teams(page, url: str, *, within_s: float = 10.0) -> None:
    """Open the goods page until it lists the team just opened: its team list is cached for a couple of seconds
    (``apps.trade.selectors.joinable_teams``), so a page asked right after the leader's own visit may predate it."""
    deadline = time.monotonic() + within_s
    page.goto(url)
    while page.locator("button.auto-join").count() == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(500)
        page.goto(url)


def test_leader_price_auto_join_bell_and_analytics_in_one_walk(
    live_shop, mall_offer, chromium_path, monkeypatch, request
):
    playwright = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API keeps an event loop
    leader_offer = DiscountFactory.create(market_plan="ZJ", market_expr="10", discount_name="leader 10 off")
    Activity.objects.filter(pk=mall_offer.activity.pk).update(leader_discount=leader_offer)
    for name in ("demo1", "demo2", "demo3"):
        user(name)  # the factory's password: "pw"
    staff = StaffFactory.create(is_superuser=True)
    staff.set_password(STAFF_PASSWORD)
    staff.save()
    base, goods = live_shop.url, f"{live_shop.url}/goods/{mall_offer.goods_id}"
    walk = Walk(request.node.name)
    with playwright.sync_playwright() as pw:
        expect = playwright.expect
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:

            def shopper(username: str):
                page = browser.new_context(locale="en-US", viewport=PHONE).new_page()
                log_in(page, base, username, "pw")
                return page

            leader = shopper("demo1")
            leader.goto(goods)
            expect(leader.locator(".leader-offer .leader-price")).to_have_text("¥70.00")
            expect(leader.locator("a.inbox-bell")).to_have_attribute("data-unread", "0")
            walk.shot(leader, "leader-goods")
            leader.click("button.open-team")
            leader.wait_for_url("**/cashier/*")
            expect(leader.locator("button.pay-button")).to_contain_text("Pay ¥70.00")
            pay_at_cashier(leader)

            for friend in ("demo2", "demo3"):
                page = shopper(friend)
                show_open_teams(page, goods)
                page.click("button.auto-join")
                page.wait_for_url("**/cashier/*")
                assert "You joined the team closest to full" in page.text_content("body")
                expect(page.locator("button.pay-button")).to_contain_text("Pay ¥80.00")  # a joiner's price
                pay_at_cashier(page)
            walk.shot(page, "friend-paid")

            team = Team.objects.get(activity_id=mall_offer.activity_id)
            assert (team.status, team.complete_count, team.virtual_count) == (Team.Status.COMPLETE, 3, 0)
            assert team_reminders_run()["formed"] == 3  # one message per member, once
            assert team_reminders_run()["formed"] == 0

            leader.goto(goods)
            expect(leader.locator("a.inbox-bell .inbox-count")).to_have_text("1")
            trials_seen = trial_counts_pending().get(mall_offer.activity_id, 0)
            assert trials_seen >= 4  # the goods page asked the trial on each of the four visits above
            trial_counts_flush()  # what the flusher thread does every few seconds outside tests
            leader.click("a.inbox-bell")
            leader.wait_for_url("**/inbox/")
            expect(leader.locator("li.inbox-message.unread .inbox-title")).to_have_text("Your team is formed")
            walk.shot(leader, "leader-inbox")

            admin = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900}).new_page()
            outside: list[str] = []
            admin.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base) else None)
            admin.goto(f"{base}/admin/analytics/report/activity/{mall_offer.activity_id}/")
            admin.fill("#id_username", staff.username)
            admin.fill("#id_password", STAFF_PASSWORD)
            admin.click("input[type=submit]")
            admin.wait_for_url(lambda url: "/login" not in url)
            admin.wait_for_function("document.querySelectorAll('canvas[data-drawn]').length === 5")
            totals = admin.locator("#analytics-total tbody td")
            expect(totals.nth(0)).to_have_text(str(trials_seen))  # trials
            expect(totals.nth(2)).to_have_text("3")  # paid orders
            expect(totals.nth(11)).to_have_text("1")  # teams formed by shoppers
            Walk(f"{request.node.name}-staff", width=1280).shot(admin, "analytics")
            assert outside == []  # scripts and charts from our own origin only
        finally:
            browser.close()
    paid = PayOrder.objects.filter(status=PayOrder.Status.PAY_SUCCESS).order_by("user__username")
    assert [(order.user.username, order.pay_amount) for order in paid] == [
        ("demo1", 70),
        ("demo2", 80),
        ("demo3", 80),
    ]
