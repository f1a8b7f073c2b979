"""The demo's reminder on what `make run` serves (the real embedded server: SQLite, fakeredis, eager Celery, the
in-process beat): a shopper opens a team on the 2-minute offer 9890006 and, a minute before its deadline, the
bell rings and the inbox says the team is about to expire. The only change behind the server's back is the
deadline moved a minute closer, as a minute of waiting would."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import requests

from apps.common.tests.embedded import embedded_server, eventually
from apps.demo.services import DEMO_PASSWORD

pytestmark = [pytest.mark.slow]

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def post_form(session: requests.Session, url: str, data: dict) -> requests.Response:
    """Submit the form on the page at ``url`` with its CSRF token (as a browser would)."""
    token = CSRF.search(session.get(url).text)
    assert token, f"no form on {url}"
    return session.post(url, data={"csrfmiddlewaretoken": token.group(1), **data}, headers={"Referer": url})


def test_a_team_on_the_short_offer_rings_the_bell_a_minute_before_it_expires(tmp_path):
    with embedded_server(tmp_path, speedup=30) as server:  # the reminder job every 0.5 s
        shopper = requests.Session()
        shopper.headers["Accept-Language"] = "en"
        post_form(shopper, f"{server.url}/login", {"username": "demo1", "password": DEMO_PASSWORD})
        token = CSRF.search(shopper.get(f"{server.url}/goods/9890006").text).group(1)
        opened = shopper.post(f"{server.url}/goods/9890006/buy", data={"csrfmiddlewaretoken": token},
                              headers={"Referer": f"{server.url}/goods/9890006"})  # fmt: skip
        assert "/cashier/" in opened.url, opened.text[-2000:]
        (team_id,) = server.query("SELECT team_id FROM group_buy_order WHERE activity_id = 100128")[0]
        assert 'data-unread="0"' in shopper.get(f"{server.url}/").text

        now = datetime.now(UTC).replace(tzinfo=None)
        server.query(
            "UPDATE group_buy_order SET valid_start_time = ?, valid_end_time = ? WHERE team_id = ?",
            str(now - timedelta(seconds=70)), str(now + timedelta(seconds=50)), team_id,
        )  # fmt: skip
        eventually(
            lambda: server.query("SELECT kind, team_id FROM inbox_message") == [("team_expiring", team_id)],
            timeout=20, what="the expiry reminder", server=server,
        )  # fmt: skip
        assert 'data-unread="1"' in shopper.get(f"{server.url}/orders").text
        inbox = shopper.get(f"{server.url}/inbox/").text
        assert "Your team is about to expire" in inbox
        assert "2 seats are still free" in inbox
