"""Helpers of the browser tests (Debian's Chromium driven by Playwright's sync API; never a downloaded browser).

Screenshots go under test-artifacts/ at the repository root (gitignored; CI keeps the folder as the run's
artifact). ``Walk`` numbers a test's screenshots in the order its pages were visited.
"""

from __future__ import annotations

import re
from pathlib import Path

from apps.demo.services import DEMO_PASSWORD

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip
PHONE = {"width": 390, "height": 844}
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def log_in(page, base: str, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{base}/login")
    submit_login(page, username, password)


def submit_login(page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Fill the password form of the login page ``page`` shows (the demo's password unless told), submit, and
    wait to be sent on."""
    page.fill("section.password-login input[name=username]", username)
    page.fill("section.password-login input[name=password]", password)
    page.click("section.password-login button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def pay_at_cashier(page) -> None:
    page.wait_for_url("**/cashier/*")
    page.click("button.pay-button")
    page.wait_for_selector("p.paid")


class Walk:
    """A test's walk through the pages: each page visited is checked for sideways scrolling and kept as
    test-artifacts/<test name>/NN-<page>.png."""

    def __init__(self, test_name: str, *, width: int = PHONE["width"]) -> None:
        self.folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", test_name)
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.width = width
        self.count = 0

    def shot(self, page, name: str) -> Path:
        """Screenshot ``page`` (full length) and assert nothing is wider than the viewport."""
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= self.width, f"{path.name}: the page is {scroll_width} px wide at {self.width} px"
        return path
