"""Scan login is collected only by the browser the ticket was issued to (login CSRF, issue #13).

The attack this closes: an attacker asks for a ticket (no cookie, so it used to be unbound), confirms
it with their own phone, and sends the victim a ``check_login?ticket=...`` link; the victim's browser
was logged into the attacker's account, and the victim's trusted device revoked on the way.
"""

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client
from rest_framework.authtoken.models import Token

from apps.accounts.browser import DEVICE_COOKIE
from apps.accounts.models import TrustedDevice
from apps.accounts.services import login_ticket_confirm, login_ticket_issue, login_ticket_key
from apps.accounts.tests.factories import UserFactory
from apps.accounts.tests.helpers import CHECK_API, CONFIRM_API, TICKET_API
from apps.common.redis import get_redis

pytestmark = pytest.mark.django_db


def issue(client: Client) -> str:
    response = client.get(TICKET_API)
    assert response.status_code == 200, response.content
    return response.json()["data"]["ticket"]


def check(client: Client, ticket: str):
    response = client.get(CHECK_API, {"ticket": ticket})
    assert (response.status_code, response.json()["code"]) == (200, "0000"), response.content
    return response


@pytest.fixture
def victim() -> tuple[Client, TrustedDevice]:
    """A shopper's browser: logged in with the password form, so it holds a trusted device."""
    UserFactory(username="victim")
    browser = Client()
    response = browser.post("/login", {"username": "victim", "password": "pw"})
    assert response.status_code == 302, response.content
    return browser, TrustedDevice.objects.get(user__username="victim")


def test_a_ticket_confirmed_by_an_attacker_does_not_log_the_victims_browser_in(victim, mobile):
    browser, device = victim
    attacker = Client()  # no cookie when asking: the ticket used to be bound to nobody
    ticket = issue(attacker)
    assert mobile.post(CONFIRM_API, {"ticket": ticket}, format="json").status_code == 200  # attacker's phone

    response = check(browser, ticket)  # the victim follows the attacker's link

    assert response.json()["data"] == {"status": "waiting"}  # no token either
    assert browser.session[SESSION_KEY] == str(device.user_id)  # still the victim
    assert DEVICE_COOKIE not in response.cookies
    device.refresh_from_db()
    assert device.revoked_at is None
    assert TrustedDevice.objects.filter(user=mobile.user).count() == 0
    assert get_redis().exists(login_ticket_key(ticket))  # not consumed by the wrong browser


def test_an_anonymous_victim_stays_anonymous(mobile):
    attacker, browser = Client(), Client()
    browser.get("/login")  # a session of its own, with a ticket of its own
    ticket = issue(attacker)
    mobile.post(CONFIRM_API, {"ticket": ticket}, format="json")

    assert check(browser, ticket).json()["data"] == {"status": "waiting"}
    assert check(Client(), ticket).json()["data"] == {"status": "waiting"}  # a browser with no cookie at all
    assert SESSION_KEY not in browser.session
    assert not TrustedDevice.objects.exists()


def test_a_ticket_asked_for_without_a_cookie_is_bound_to_the_session_the_answer_sets(mobile):
    browser = Client()
    response = browser.get(TICKET_API)
    ticket = response.json()["data"]["ticket"]
    assert response.cookies[settings.SESSION_COOKIE_NAME].value  # the session was created for the binding
    mobile.post(CONFIRM_API, {"ticket": ticket}, format="json")

    other = Client()
    other.get("/login")
    assert check(other, ticket).json()["data"] == {"status": "waiting"}
    assert SESSION_KEY not in other.session

    answer = check(browser, ticket)  # the rightful browser still logs in
    assert answer.json()["data"] == {"status": "confirmed", "token": Token.objects.get(user=mobile.user).key}
    assert browser.session[SESSION_KEY] == str(mobile.user.pk)
    assert answer.cookies[DEVICE_COOKIE].value
    assert check(other, ticket).json()["data"] == {"status": "expired"}  # collected: gone for everyone


def test_a_client_that_drops_the_session_cookie_cannot_collect(mobile):
    """Decision: no cookie jar, no scan login (native apps confirm, or use /login/token)."""
    browser = Client()
    ticket = issue(browser)
    mobile.post(CONFIRM_API, {"ticket": ticket}, format="json")
    browser.cookies.clear()
    assert check(browser, ticket).json()["data"] == {"status": "waiting"}
    assert not TrustedDevice.objects.exists()


def test_the_wechat_portal_and_the_scan_page_only_confirm(client, mobile):
    """Confirming from the phone's page logs the phone in as nobody else, and the phone cannot collect."""
    browser = Client()
    ticket = issue(browser)
    client.force_login(mobile.user)
    assert 'data-state="confirmed"' in client.post(f"/login/scan/{ticket}").content.decode()
    assert check(client, ticket).json()["data"] == {"status": "waiting"}
    assert check(browser, ticket).json()["data"]["status"] == "confirmed"


def test_a_ticket_stored_without_an_owner_is_collected_by_nobody():
    """Tickets written before every ticket was bound (at most 5 minutes of them at a deploy)."""
    user = UserFactory()
    ticket = "L" * 32
    get_redis().hset(login_ticket_key(ticket), mapping={"state": "confirmed", "user": user.pk, "owner": ""})
    browser = Client()
    browser.get("/login")
    assert check(browser, ticket).json()["data"] == {"status": "waiting"}
    assert check(Client(), ticket).json()["data"] == {"status": "waiting"}
    assert SESSION_KEY not in browser.session


def test_issuing_an_unbound_ticket_is_a_programming_error():
    with pytest.raises(ValueError):
        login_ticket_issue(owner="")
    ticket = login_ticket_issue(owner="some-session-hash").ticket
    login_ticket_confirm(ticket=ticket, user=UserFactory())
    assert get_redis().hget(login_ticket_key(ticket), "owner") == b"some-session-hash"
