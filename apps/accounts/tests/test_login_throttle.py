"""Password login throttle through HTTP: the token API and the /login page share one per-account and
one per-address budget of failed attempts (apps/accounts/throttle.py)."""

import logging
import time

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts import throttle
from apps.accounts.tests.factories import UserFactory
from apps.accounts.tests.helpers import race

pytestmark = pytest.mark.django_db

TOKEN_API = "/api/v1/login/token"
THROTTLED_EN = "Too many failed login attempts. Please try again in 15 minutes."


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_THROTTLE_WINDOW_SECONDS = 900
    settings.LOGIN_THROTTLE_ACCOUNT_FAILURES = 5
    settings.LOGIN_THROTTLE_ADDRESS_FAILURES = 20
    settings.CLIENT_IP_HEADER = ""


@pytest.fixture
def shopper():
    return UserFactory(username="shopper")


def api_login(username: str, password: str, address: str = "10.0.0.1", **headers):
    return APIClient().post(
        TOKEN_API,
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=address,
        HTTP_ACCEPT_LANGUAGE="en",
        **headers,
    )


def page_login(username: str, password: str, address: str = "10.0.0.1", client: Client | None = None):
    return (client or Client()).post(
        "/login", {"username": username, "password": password}, REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="en"
    )


def assert_throttled(response) -> None:
    body = response.json()
    assert (response.status_code, body["code"], body["info"]) == (429, "0006", THROTTLED_EN)
    assert 899 <= body["data"]["retryAfterSeconds"] <= 900
    assert 899 <= int(response["Retry-After"]) <= 900


def test_the_sixth_bad_password_for_one_account_is_429_on_the_api_and_the_page_from_any_address(shopper):
    for n, name in enumerate(["shopper", "Shopper", "SHOPPER", " shopper", "shopper"]):  # one account, any case
        response = api_login(name, "wrong", address=f"10.0.1.{n}")
        assert (response.status_code, response.json()["code"]) == (401, "0401")

    # Refused before the password is checked: the right one does not get through either.
    assert_throttled(api_login("shopper", "pw", address="10.0.2.1"))
    assert_throttled(api_login("sHoPpEr", "wrong", address="10.0.2.2"))

    browser = Client()
    page = page_login("shopper", "pw", address="10.0.2.3", client=browser)
    assert page.status_code == 429
    assert 899 <= int(page["Retry-After"]) <= 900
    html = page.content.decode()
    assert THROTTLED_EN in html
    assert 'name="password"' in html and "data-ticket" in html  # the form stays, scan login stays open
    assert SESSION_KEY not in browser.session

    assert api_login("someone-else", "wrong", address="10.0.2.4").status_code == 401  # other accounts unaffected


def test_the_page_counts_failures_into_the_same_budget(shopper):
    for _ in range(5):
        response = page_login("shopper", "wrong")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    assert_throttled(api_login("shopper", "pw", address="10.9.9.9"))


def test_many_accounts_from_one_address_are_429(shopper):
    for n in range(20):
        assert api_login(f"guess{n}", "wrong", address="192.0.2.7").status_code == 401
    assert_throttled(api_login("shopper", "pw", address="192.0.2.7"))
    page = page_login("shopper", "pw", address="192.0.2.7")
    assert page.status_code == 429 and THROTTLED_EN in page.content.decode()
    # The same account from another address is not that address's problem.
    assert api_login("shopper", "pw", address="192.0.2.8").status_code == 200


def test_the_right_password_works_again_when_the_window_ends(settings, shopper):
    settings.LOGIN_THROTTLE_WINDOW_SECONDS = 1
    for _ in range(5):
        api_login("shopper", "wrong")
    refused = api_login("shopper", "pw")
    assert (refused.status_code, refused.json()["data"]) == (429, {"retryAfterSeconds": 1})
    assert "1 minute." in refused.json()["info"]
    time.sleep(1.2)
    response = api_login("shopper", "pw")
    assert (response.status_code, response.json()["code"]) == (200, "0000")
    assert response.json()["data"]["token"]


def test_a_success_clears_the_accounts_failures(shopper):
    for _ in range(4):
        api_login("shopper", "wrong")
    assert api_login("shopper", "pw").status_code == 200
    for _ in range(4):
        assert api_login("shopper", "wrong").status_code == 401
    browser = Client()
    assert page_login("shopper", "pw", client=browser).status_code == 302  # 8 failures, never 5 in a row
    assert browser.session[SESSION_KEY] == str(shopper.pk)


def test_successful_logins_from_one_address_are_never_throttled(shopper):
    """An office behind one NAT: only failures use up the address's budget."""
    for _ in range(30):
        assert api_login("shopper", "pw", address="203.0.113.1").status_code == 200
    for n in range(19):
        api_login(f"typo{n}", "wrong", address="203.0.113.1")
    assert api_login("shopper", "pw", address="203.0.113.1").status_code == 200


def test_an_inactive_account_counts_as_a_failure(shopper):
    shopper.is_active = False
    shopper.save()
    for _ in range(5):
        assert api_login("shopper", "pw").status_code == 401
    assert api_login("shopper", "pw").status_code == 429


def test_a_limit_of_zero_turns_that_counter_off(settings, shopper):
    settings.LOGIN_THROTTLE_ACCOUNT_FAILURES = 0
    for n in range(8):
        assert api_login("shopper", "wrong", address=f"10.3.0.{n}").status_code == 401
    assert api_login("shopper", "pw").status_code == 200


# --- the client address ---------------------------------------------------------------------------


def test_behind_the_proxy_its_header_is_the_address(settings, shopper):
    settings.CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    nginx = "172.18.0.5"
    for n in range(20):
        api_login(f"guess{n}", "wrong", address=nginx, HTTP_X_REAL_IP="198.51.100.1")
    assert api_login("shopper", "pw", address=nginx, HTTP_X_REAL_IP="198.51.100.1").status_code == 429
    # Other clients reach the app through the same proxy and are not throttled with the guesser.
    assert api_login("shopper", "pw", address=nginx, HTTP_X_REAL_IP="198.51.100.2").status_code == 200


def test_without_a_trusted_proxy_a_forged_header_changes_nothing(shopper):
    for n in range(20):
        forged = {"HTTP_X_REAL_IP": f"10.8.0.{n}", "HTTP_X_FORWARDED_FOR": f"10.9.0.{n}"}
        api_login(f"guess{n}", "wrong", address="192.0.2.9", **forged)
    assert api_login("shopper", "pw", address="192.0.2.9", HTTP_X_REAL_IP="10.8.1.1").status_code == 429


def test_a_forwarded_for_list_counts_by_the_entry_the_proxy_appended(settings, shopper):
    settings.CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    for n in range(20):  # the client forges the first entries; nginx appends the address it saw
        api_login(f"guess{n}", "wrong", address="172.18.0.5", HTTP_X_FORWARDED_FOR=f"10.7.0.{n}, 198.51.100.9")
    assert api_login("shopper", "pw", address="172.18.0.5", HTTP_X_FORWARDED_FOR="198.51.100.9").status_code == 429


def test_an_ipv6_client_counts_as_its_slash_64(shopper):
    for n in range(20):
        api_login(f"guess{n}", "wrong", address=f"2001:db8:1:2::{n + 1:x}")
    assert api_login("shopper", "pw", address="2001:db8:1:2:ffff::1").status_code == 429
    assert api_login("shopper", "pw", address="2001:db8:1:3::1").status_code == 200


# --- Redis unreachable ------------------------------------------------------------------------------


def test_without_redis_password_logins_are_checked_unthrottled(redis_down, caplog, shopper):
    throttle._warn.reset()
    with caplog.at_level(logging.WARNING, logger="apps.accounts.throttle"):
        for _ in range(7):
            assert api_login("shopper", "wrong").status_code == 401
        assert api_login("shopper", "pw").status_code == 200
        assert page_login("shopper", "pw").status_code == 302
    warnings = [record.getMessage() for record in caplog.records if record.name == "apps.accounts.throttle"]
    assert warnings and "Redis unreachable" in warnings[0]
    assert len(warnings) == 1  # one line per outage burst, not one per login


# --- real Redis: the scripts under a burst ---------------------------------------------------------


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_burst_of_parallel_guesses_gets_exactly_the_budget(real_redis, shopper):
    """Each attempt reserves its slot atomically: 20 guesses at once, 5 reach the password check."""
    codes = race(lambda n: api_login("shopper", "wrong", address=f"10.4.0.{n}").status_code, 20)
    assert sorted(codes) == [401] * 5 + [429] * 15
    keys = real_redis.keys("gbm:login:throttle:*")  # the account's, and the 5 addresses that got to guess
    assert len(keys) == 6 and all(0 < real_redis.ttl(key) <= 900 for key in keys)
    assert api_login("shopper", "pw", address="10.4.1.1").status_code == 429
