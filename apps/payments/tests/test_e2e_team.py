"""The whole purchase in a real browser (Debian's Chromium driven by Playwright): A logs in, opens a
team and pays; B and C join from the share page and pay; the team shows complete.

On failure each browser page's screenshot is saved under test-artifacts/ (CI keeps them)."""

import pytest

from apps.payments.models import PayOrder
from apps.payments.tests.browser import ARTIFACTS, CHROMIUM_ARGS, log_in, pay_at_cashier
from apps.payments.tests.helpers import user
from apps.trade.models import Team

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_three_shoppers_complete_a_team_in_the_browser(live_shop, mall_offer, chromium_path, monkeypatch, request):
    playwright = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API keeps an event loop
    base = live_shop.url
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        pages = {}
        try:
            for name in ("xiaofuge", "liergou", "demo1"):
                user(name)  # the factory's password: "pw"
                pages[name] = browser.new_context(locale="en-US").new_page()
            leader = pages["xiaofuge"]
            log_in(leader, base, "xiaofuge", "pw")
            leader.goto(f"{base}/goods/{mall_offer.goods_id}")
            leader.click("button.open-team")
            pay_at_cashier(leader)
            team_id = Team.objects.get().team_id

            for name in ("liergou", "demo1"):
                page = pages[name]
                log_in(page, base, name, "pw")
                page.goto(f"{base}/teams/{team_id}")  # the share page a friend opens
                page.click("button.join-team")
                pay_at_cashier(page)

            leader.goto(f"{base}/teams/{team_id}")
            status = leader.get_attribute("article.team-share", "data-team-status")
            assert status == str(Team.Status.COMPLETE)
            assert "3/3 joined" in leader.text_content("p.seats")
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            for name, page in pages.items():
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{name}.png"), full_page=True)
            raise
        finally:
            browser.close()
    team = Team.objects.get()
    assert (team.status, team.complete_count) == (Team.Status.COMPLETE, 3)
    assert PayOrder.objects.filter(status__in=[PayOrder.Status.PAY_SUCCESS, PayOrder.Status.DEAL_DONE]).count() == 3
