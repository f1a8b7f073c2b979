"""Seamless login with a signed device cookie, revocation in admin, logout."""

import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import signing
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from apps.accounts.browser import DEVICE_COOKIE, DEVICE_SALT, SESSION_DEVICE_KEY, device_cookie_value
from apps.accounts.models import TrustedDevice
from apps.accounts.selectors import trusted_device_cache_clear, trusted_device_state
from apps.accounts.services import trusted_device_create, trusted_devices_revoke
from apps.accounts.tests.factories import StaffFactory, UserFactory
from apps.accounts.tests.helpers import CHECK_API, CONFIRM_API
from apps.common import cache as common_cache

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("device_middleware")]


@pytest.fixture
def shopper():
    return UserFactory(username="shopper")


def password_login(client: Client, username: str = "shopper") -> str:
    response = client.post("/login", {"username": username, "password": "pw"})
    assert response.status_code == 302, response.content
    return response.cookies[DEVICE_COOKIE].value


def with_cookie(value: str) -> Client:
    """A browser that has nothing but the device cookie (its session is gone: expired, or a new day)."""
    browser = Client()
    browser.cookies[DEVICE_COOKIE] = value
    return browser


def is_logged_in(client: Client, username: str = "shopper") -> bool:
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    return f'<span class="who">{username}</span>' in html


def assert_cookie_cleared(response) -> None:
    cookie = response.cookies[DEVICE_COOKIE]
    assert cookie.value == "" and cookie["max-age"] == 0


def revoke_in_admin(device: TrustedDevice, on_commit) -> None:
    staff = Client()
    staff.force_login(StaffFactory.create())
    with on_commit(execute=True) as callbacks:  # the cache is busted after commit
        response = staff.post(
            reverse("admin:accounts_trusteddevice_changelist"),
            {"action": "revoke", "_selected_action": [device.pk]},
            HTTP_ACCEPT_LANGUAGE="en",
            follow=True,
        )
    assert callbacks
    assert response.status_code == 200
    assert "1 device revoked." in response.content.decode()


# --- seamless login -----------------------------------------------------------------------------


def test_the_device_cookie_alone_logs_a_new_browser_in(client, shopper):
    cookie = password_login(client)
    device = TrustedDevice.objects.get(user=shopper)
    browser = with_cookie(cookie)
    assert SESSION_KEY not in browser.session

    response = browser.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert '<span class="who">shopper</span>' in response.content.decode()
    assert DEVICE_COOKIE not in response.cookies  # kept as it is
    assert browser.session[SESSION_KEY] == str(shopper.pk)
    assert browser.session[SESSION_DEVICE_KEY] == device.device_id.hex
    device.refresh_from_db()
    assert device.last_seen > device.create_time
    assert is_logged_in(browser)  # and stays logged in by its session


def test_the_scan_login_cookie_works_the_same(client, mobile):
    ticket = re.search(r'data-ticket="([^"]+)"', client.get("/login").content.decode()).group(1)
    mobile.post(CONFIRM_API, {"ticket": ticket}, format="json")
    cookie = client.get(CHECK_API, {"ticket": ticket}).cookies[DEVICE_COOKIE].value
    assert is_logged_in(with_cookie(cookie), "phone-user")


def test_revoked_in_admin_the_next_request_is_anonymous_and_the_cookie_is_cleared(
    client, shopper, django_capture_on_commit_callbacks
):
    cookie = password_login(client)
    seamless = with_cookie(cookie)
    assert is_logged_in(seamless)
    assert is_logged_in(seamless) and is_logged_in(client)  # the device's state is cached now
    device = TrustedDevice.objects.get(user=shopper)

    revoke_in_admin(device, django_capture_on_commit_callbacks)

    device.refresh_from_db()
    assert device.revoked_at is not None
    # The browser that logged in through the device: its session ends at once.
    response = seamless.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert "shopper" not in response.content.decode()
    assert_cookie_cleared(response)
    assert SESSION_KEY not in seamless.session
    # So does the session of the original password login on that device.
    assert_cookie_cleared(client.get("/"))
    assert not is_logged_in(client)
    # And the cookie no longer logs anyone in.
    fresh = with_cookie(cookie)
    assert_cookie_cleared(fresh.get("/"))
    assert SESSION_KEY not in fresh.session


@pytest.mark.parametrize(
    "tamper",
    [
        lambda value: value[:-1] + ("A" if value[-1] != "A" else "B"),  # signature altered
        lambda value: uuid.uuid4().hex + value[32:],  # another device id under the old signature
        lambda value: "junk",
        lambda value: signing.TimestampSigner(salt="another.salt").sign(value.split(":")[0]),
        lambda value: signing.TimestampSigner(key="another-secret", salt=DEVICE_SALT).sign(value.split(":")[0]),
        lambda value: "x" * 5000,
    ],
    ids=["signature", "device-id", "junk", "other-salt", "other-key", "huge"],
)
def test_a_tampered_cookie_is_anonymous_and_cleared(client, shopper, tamper):
    cookie = password_login(client)
    browser = with_cookie(tamper(cookie))
    response = browser.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert '<span class="who">' not in response.content.decode()
    assert_cookie_cleared(response)
    assert SESSION_KEY not in browser.session


def test_a_cookie_for_an_unknown_device_is_cleared(shopper):
    response = with_cookie(device_cookie_value(uuid.uuid4())).get("/")
    assert_cookie_cleared(response)


def test_a_cookie_signed_more_than_30_days_ago_is_refused(shopper, monkeypatch):
    device = TrustedDevice.objects.create(
        user=shopper, last_seen=timezone.now(), expires_at=timezone.now() + timedelta(days=1)
    )
    monkeypatch.setattr(signing.time, "time", lambda: 1_000_000_000)  # the signer's clock, far in the past
    old = device_cookie_value(device.device_id)
    monkeypatch.undo()
    assert_cookie_cleared(with_cookie(old).get("/"))


def test_an_expired_device_is_anonymous_and_cleared(client, shopper, django_capture_on_commit_callbacks):
    cookie = password_login(client)
    device = TrustedDevice.objects.get(user=shopper)
    with django_capture_on_commit_callbacks(execute=True):
        TrustedDevice.objects.filter(pk=device.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        trusted_device_cache_clear(device_id=device.device_id)  # a bulk update bypasses the signals
    assert_cookie_cleared(with_cookie(cookie).get("/"))
    assert_cookie_cleared(client.get("/"))  # the session bound to it ends too


def test_an_inactive_user_is_not_logged_in(client, shopper):
    cookie = password_login(client)
    shopper.is_active = False
    shopper.save()
    browser = with_cookie(cookie)
    assert_cookie_cleared(browser.get("/"))
    assert SESSION_KEY not in browser.session


def test_a_deleted_device_ends_its_session(client, shopper, django_capture_on_commit_callbacks):
    password_login(client)
    assert is_logged_in(client)
    with django_capture_on_commit_callbacks(execute=True):
        TrustedDevice.objects.get(user=shopper).delete()
    assert_cookie_cleared(client.get("/"))


def test_seamless_login_happens_on_safe_methods_only(client, shopper):
    cookie = password_login(client)
    browser = with_cookie(cookie)
    # A POST of an expired session stays anonymous (session auth would refuse it)...
    response = browser.post("/api/v1/login/confirm", {"ticket": "x"}, content_type="application/json")
    assert response.status_code == 401
    assert DEVICE_COOKIE not in response.cookies
    assert SESSION_KEY not in browser.session
    assert is_logged_in(browser)  # ...the next page view logs in


def test_another_login_on_the_browser_is_left_alone(client, shopper):
    cookie = password_login(client)
    admin_session = with_cookie(cookie)
    other = UserFactory(username="operator")
    admin_session.force_login(other)  # e.g. /admin/login/: no device in the session
    assert is_logged_in(admin_session, "operator")
    assert admin_session.session[SESSION_KEY] == str(other.pk)


def test_a_new_login_replaces_the_browsers_previous_device(client, shopper):
    first = password_login(client)
    UserFactory(username="second")
    second = password_login(client, "second")  # the same browser, another account
    assert TrustedDevice.objects.get(user=shopper).revoked_at is not None
    assert TrustedDevice.objects.get(user__username="second").revoked_at is None
    assert first != second
    assert is_logged_in(with_cookie(second), "second")


def test_device_bound_sessions_cost_no_extra_query_when_warm(client, shopper, settings):
    password_login(client)
    client.get("/")  # warms the device cache
    with CaptureQueriesContext(connection) as with_device:
        client.get("/")
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "TrustedDevice" not in m]
    with CaptureQueriesContext(connection) as without:
        client.get("/")
    assert len(with_device) == len(without)


def test_device_cache_down_the_database_answers(client, shopper, monkeypatch):
    password_login(client)

    class Down:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise RedisConnectionError("Connection refused")

            return fail

    monkeypatch.setattr(common_cache, "cache", Down())
    assert is_logged_in(client)
    device = TrustedDevice.objects.get(user=shopper)
    TrustedDevice.objects.filter(pk=device.pk).update(revoked_at=timezone.now())
    assert not is_logged_in(client)


def test_device_state_is_cached_and_busted_by_revocation(
    shopper, django_assert_num_queries, django_capture_on_commit_callbacks
):
    device = trusted_device_create(user=shopper, user_agent="x" * 400)
    assert len(device.user_agent) == 255
    assert trusted_device_state(device_id=device.device_id).revoked is False
    with django_assert_num_queries(0):
        assert trusted_device_state(device_id=device.device_id).user_id == shopper.pk
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert trusted_devices_revoke(device_ids=[device.device_id]) == 1
    assert trusted_device_state(device_id=device.device_id).revoked is False  # not committed yet
    for callback in callbacks:
        callback()
    assert trusted_device_state(device_id=device.device_id).revoked is True
    assert trusted_devices_revoke(device_ids=[device.device_id]) == 0  # idempotent


# --- logout ------------------------------------------------------------------------------------------


def test_logout_revokes_the_device_and_clears_the_cookie(client, shopper):
    cookie = password_login(client)
    response = client.post("/logout")
    assert response.status_code == 302 and response["Location"] == "/"
    assert_cookie_cleared(response)
    assert SESSION_KEY not in client.session
    assert TrustedDevice.objects.get(user=shopper).revoked_at is not None
    assert not is_logged_in(with_cookie(cookie))


def test_logout_of_a_seamless_session(client, shopper, django_capture_on_commit_callbacks):
    browser = with_cookie(password_login(client))
    assert is_logged_in(browser) and is_logged_in(client)
    with django_capture_on_commit_callbacks(execute=True):
        assert_cookie_cleared(browser.post("/logout"))
    assert not is_logged_in(browser)
    assert not is_logged_in(client)  # the same device: the first session ends too


def test_logout_is_post_only_and_csrf_protected(client, shopper):
    password_login(client)
    assert client.get("/logout").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(shopper)
    assert strict.post("/logout").status_code == 403


def test_the_header_shows_login_or_logout(client, shopper):
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'href="/login?next=/"' in html and "Log in" in html
    password_login(client)
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'action="/logout"' in html and "Log out" in html


# --- admin -----------------------------------------------------------------------------------------------


def test_admin_lists_devices_with_status_and_filters(shopper):
    now = timezone.now()
    active = TrustedDevice.objects.create(user=shopper, last_seen=now, expires_at=now + timedelta(days=1))
    TrustedDevice.objects.create(user=shopper, last_seen=now, expires_at=now - timedelta(days=1))
    TrustedDevice.objects.create(user=shopper, last_seen=now, expires_at=now + timedelta(days=1), revoked_at=now)
    staff = Client()
    staff.force_login(StaffFactory())
    url = reverse("admin:accounts_trusteddevice_changelist")
    html = staff.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for word in ("active", "expired", "revoked", "shopper", "Last seen", "Revoke selected devices"):
        assert word in html
    only_active = staff.get(url, {"status": "active"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert active.device_id.hex[:8] in only_active
    assert "0 of 1 selected" in only_active
    assert staff.get(reverse("admin:accounts_trusteddevice_add")).status_code == 403
    detail = staff.get(reverse("admin:accounts_trusteddevice_change", args=[active.pk]))
    assert detail.status_code == 200  # read-only view
    assert staff.get(reverse("admin:accounts_weixinidentity_changelist")).status_code == 200
    assert staff.get(reverse("admin:authtoken_tokenproxy_changelist")).status_code == 200
