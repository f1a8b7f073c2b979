"""Scan login through HTTP: ticket, polling, the WeChat portal, the mobile confirm API, the pages."""

import io
import re
import time

import pytest
import segno
from django.contrib.auth import SESSION_KEY
from django.test import Client
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.accounts import services
from apps.accounts.browser import DEVICE_COOKIE
from apps.accounts.models import TrustedDevice, User, WeixinIdentity
from apps.accounts.services import LOGIN_TICKET_TTL_SECONDS, login_ticket_key
from apps.accounts.tests.factories import UserFactory
from apps.accounts.tests.helpers import (
    CHECK_API,
    CONFIRM_API,
    PORTAL,
    TICKET_API,
    portal_post,
    scan_xml,
    signed_query,
)
from apps.common.redis import get_redis

pytestmark = pytest.mark.django_db

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


def new_ticket(client=None) -> str:
    response = (client or APIClient()).get(TICKET_API)
    assert response.status_code == 200, response.content
    return response.json()["data"]["ticket"]


def poll(client, ticket: str) -> dict:
    response = client.get(CHECK_API, {"ticket": ticket})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["code"] == "0000"
    return body["data"]


# --- the ticket ----------------------------------------------------------------------------------


def test_ticket_api_answers_ticket_qr_url_and_lifetime():
    response = APIClient().get(TICKET_API)
    body = response.json()
    assert (response.status_code, body["code"]) == (200, "0000")
    data = body["data"]
    assert set(data) == {"ticket", "qrCodeUrl", "expireSeconds"}
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", data["ticket"])
    assert data["qrCodeUrl"] == f"http://testserver/login/qr/{data['ticket']}.svg"
    assert data["expireSeconds"] == LOGIN_TICKET_TTL_SECONDS == 300
    assert 295 <= get_redis().ttl(login_ticket_key(data["ticket"])) <= 300
    assert new_ticket() != data["ticket"]


def test_qr_image_encodes_the_phone_confirm_page():
    ticket = new_ticket()
    response = Client().get(f"/login/qr/{ticket}.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")

    # segno is deterministic: the same URL at the same settings gives the same picture.
    def svg_of(url: str) -> bytes:
        out = io.BytesIO()
        segno.make(url, error="m", micro=False).save(out, kind="svg", scale=5, border=2, xmldecl=False)
        return out.getvalue()

    assert response.content == svg_of(f"http://testserver/login/scan/{ticket}")
    other = ticket[:-1] + ("y" if ticket.endswith("x") else "x")  # another ticket, whatever the last character
    assert response.content != svg_of(f"http://testserver/login/scan/{other}")


def test_qr_image_of_a_malformed_ticket_is_404():
    assert Client().get("/login/qr/bad!ticket.svg").status_code == 404
    assert Client().get("/login/qr/short.svg").status_code == 404


# --- polling states -------------------------------------------------------------------------------


def test_poll_waiting_then_confirmed_once_then_expired(mobile):
    browser = APIClient()
    ticket = new_ticket(browser)
    assert poll(browser, ticket) == {"status": "waiting"}
    assert poll(browser, ticket) == {"status": "waiting"}

    confirm = mobile.post(CONFIRM_API, {"ticket": ticket}, format="json")
    assert confirm.status_code == 200, confirm.content
    assert confirm.json()["data"] == {"status": "confirmed"}

    first = poll(browser, ticket)
    assert first == {"status": "confirmed", "token": Token.objects.get(user=mobile.user).key}
    # Consumed: the ticket is gone, every later poll (anyone's) answers expired.
    assert poll(browser, ticket) == {"status": "expired"}
    assert poll(APIClient(), ticket) == {"status": "expired"}
    assert not get_redis().exists(login_ticket_key(ticket))


def test_the_token_works_on_the_mall_api(mobile):
    browser = APIClient()
    ticket = new_ticket(browser)
    mobile.post(CONFIRM_API, {"ticket": ticket}, format="json")
    token = poll(browser, ticket)["token"]
    browser.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert browser.get("/api/v1/login/check_login", {"ticket": "x" * 20}).status_code == 200
    confirm = browser.post(CONFIRM_API, {"ticket": new_ticket()}, format="json")
    assert confirm.status_code == 200  # the token authenticates as the phone's user


def test_unknown_and_garbage_tickets_are_expired():
    client = APIClient()
    assert poll(client, "Z" * 32) == {"status": "expired"}
    assert poll(client, "not a ticket!") == {"status": "expired"}
    assert poll(client, "a") == {"status": "expired"}


@pytest.mark.parametrize("query", [{}, {"ticket": ""}, {"ticket": "x" * 65}], ids=["missing", "blank", "long"])
def test_bad_poll_input_is_0002(query):
    response = APIClient().get(CHECK_API, query)
    body = response.json()
    assert (response.status_code, body["code"]) == (400, "0002")
    assert "ticket" in body["data"]


def test_an_expired_ticket_answers_expired_and_cannot_be_confirmed(mobile):
    ticket = new_ticket()
    get_redis().delete(login_ticket_key(ticket))  # what the TTL does after 5 minutes
    assert poll(APIClient(), ticket) == {"status": "expired"}
    response = mobile.post(CONFIRM_API, {"ticket": ticket}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    body = response.json()
    assert (response.status_code, body["code"], body["info"]) == (400, "0002", "ticket expired")
    assert body["data"] == {"ticket": ["ticket expired"]}


def test_the_ttl_really_expires_the_ticket():
    ticket = new_ticket()
    get_redis().pexpire(login_ticket_key(ticket), 50)
    time.sleep(0.15)
    assert poll(APIClient(), ticket) == {"status": "expired"}


def test_a_confirmation_in_the_last_second_leaves_time_to_collect(mobile):
    ticket = new_ticket()
    get_redis().expire(login_ticket_key(ticket), 1)
    mobile.post(CONFIRM_API, {"ticket": ticket}, format="json")
    assert get_redis().ttl(login_ticket_key(ticket)) >= 29


# --- the mobile confirm API ------------------------------------------------------------------------


def test_confirm_needs_a_token():
    response = APIClient().post(CONFIRM_API, {"ticket": new_ticket()}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "0401")


def test_confirm_input_is_validated(mobile):
    response = mobile.post(CONFIRM_API, {}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "0002")
    response = mobile.post(CONFIRM_API, {"ticket": "bad ticket"}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert (response.status_code, response.json()["info"]) == (400, "ticket expired")


def test_confirming_twice_is_fine_but_another_account_cannot_take_it(mobile):
    browser = APIClient()
    ticket = new_ticket(browser)
    assert mobile.post(CONFIRM_API, {"ticket": ticket}, format="json").status_code == 200
    assert mobile.post(CONFIRM_API, {"ticket": ticket}, format="json").status_code == 200

    other = APIClient()
    other.force_authenticate(UserFactory(username="someone-else"))
    response = other.post(CONFIRM_API, {"ticket": ticket}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    body = response.json()
    assert (response.status_code, body["code"]) == (400, "0002")
    assert body["info"] == "ticket already confirmed by another account"
    assert poll(browser, ticket)["token"] == Token.objects.get(user=mobile.user).key


# --- the WeChat portal: URL verification --------------------------------------------------------------


def test_portal_echoes_echostr_when_the_signature_is_valid():
    response = APIClient().get(f"{PORTAL}?{signed_query(timestamp='1700000000')}&echostr=8310982046410837")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == b"8310982046410837"


@pytest.mark.parametrize(
    "query",
    [
        signed_query(token="wrong-token") + "&echostr=1",
        "timestamp=1700000000&nonce=1&echostr=1",
        "signature=abc&nonce=1&echostr=1",
        "echostr=1",
    ],
    ids=["forged", "no-signature", "no-timestamp", "nothing"],
)
def test_portal_verification_refuses_bad_signatures_with_401(query):
    response = APIClient().get(f"{PORTAL}?{query}", HTTP_ACCEPT="text/html")
    body = response.json()
    assert (response.status_code, body["code"]) == (401, "E0201")
    assert response.content != b"1"


def test_portal_verification_without_echostr_is_0002():
    response = APIClient().get(f"{PORTAL}?{signed_query()}")
    assert (response.status_code, response.json()["code"]) == (400, "0002")


# --- the WeChat portal: scan events -----------------------------------------------------------------


def test_full_scan_flow_through_the_portal_creates_the_wechat_user():
    browser = APIClient()
    ticket = new_ticket(browser)
    response = portal_post(APIClient(), scan_xml(OPENID, ticket))
    assert (response.status_code, response.content) == (200, b"success")
    assert response["Content-Type"] == "text/plain; charset=utf-8"

    identity = WeixinIdentity.objects.select_related("user").get(openid=OPENID)
    user = identity.user
    assert user.username == f"wx_{OPENID}"
    assert not user.has_usable_password()
    data = poll(browser, ticket)
    assert data == {"status": "confirmed", "token": Token.objects.get(user=user).key}

    # The same openid next time: the same user, no second one.
    second_browser = APIClient()
    second = new_ticket(second_browser)
    portal_post(APIClient(), scan_xml(OPENID, second))
    assert poll(second_browser, second)["token"] == data["token"]
    assert User.objects.filter(username__startswith="wx_").count() == 1


def test_subscribe_with_qrscene_prefix_binds_too():
    browser = APIClient()
    ticket = new_ticket(browser)
    response = portal_post(APIClient(), scan_xml(OPENID, ticket, event="subscribe"))
    assert response.content == b"success"
    assert poll(browser, ticket)["status"] == "confirmed"


def test_portal_accepts_any_accept_header():
    ticket = new_ticket()
    response = APIClient().generic(
        "POST", f"{PORTAL}?{signed_query()}", scan_xml(OPENID, ticket), content_type="text/xml", HTTP_ACCEPT="text/xml"
    )
    assert (response.status_code, response.content) == (200, b"success")


def test_forged_portal_signature_is_401_and_binds_nothing():
    browser = APIClient()
    ticket = new_ticket(browser)
    response = portal_post(APIClient(), scan_xml(OPENID, ticket), query=signed_query(token="guessed"))
    body = response.json()
    assert (response.status_code, body["code"]) == (401, "E0201")
    assert poll(browser, ticket) == {"status": "waiting"}
    assert not WeixinIdentity.objects.exists()
    assert not User.objects.exists()


def test_a_stale_timestamp_is_refused_with_e0202():
    browser = APIClient()
    ticket = new_ticket(browser)
    stale = str(int(time.time()) - 301)
    response = portal_post(APIClient(), scan_xml(OPENID, ticket), query=signed_query(timestamp=stale))
    assert (response.status_code, response.json()["code"]) == (401, "E0202")
    assert poll(browser, ticket) == {"status": "waiting"}


def test_a_signature_replayed_with_another_body_is_refused_but_a_retry_is_not():
    browser = APIClient()
    ticket, other = new_ticket(), new_ticket(browser)
    query = signed_query()
    assert portal_post(APIClient(), scan_xml(OPENID, ticket), query=query).content == b"success"
    # WeChat re-delivering the same message (it got no answer within 5 s): accepted, nothing new.
    assert portal_post(APIClient(), scan_xml(OPENID, ticket), query=query).content == b"success"
    # Someone who saw that query string, with a body of their own: refused.
    replay = portal_post(APIClient(), scan_xml("oAttacker", other), query=query)
    assert (replay.status_code, replay.json()["code"]) == (401, "E0202")
    assert poll(browser, other) == {"status": "waiting"}
    assert not WeixinIdentity.objects.filter(openid="oAttacker").exists()


@pytest.mark.parametrize(
    "body",
    [
        b'<!DOCTYPE xml [<!ENTITY t "' + b"T" * 32 + b'">]><xml><FromUserName>o1</FromUserName>'
        b"<MsgType>event</MsgType><Event>SCAN</Event><EventKey>&t;</EventKey></xml>",
        b'<?xml version="1.0"?>\n<!ENTITY x SYSTEM "file:///etc/passwd"><xml/>',
        "<!DOCTYPE x><xml/>".encode("utf-16"),
        b"<xml><unclosed></xml>",
    ],
    ids=["doctype", "entity", "utf16", "malformed"],
)
def test_xml_with_doctype_or_malformed_is_refused(body):
    response = portal_post(APIClient(), body)
    assert (response.status_code, response.json()["code"]) == (400, "0002")
    assert not WeixinIdentity.objects.exists()


def test_doctype_with_our_ticket_binds_nothing():
    browser = APIClient()
    ticket = new_ticket(browser)
    body = scan_xml(OPENID, ticket).replace(b"<xml>", b"<!DOCTYPE xml><xml>")
    assert portal_post(APIClient(), body).status_code == 400
    assert poll(browser, ticket) == {"status": "waiting"}


def test_an_oversized_body_is_refused_before_parsing():
    response = portal_post(APIClient(), b"<xml>" + b" " * 20_000 + b"</xml>")
    assert (response.status_code, response.json()["code"]) == (400, "0002")


def test_other_messages_and_unknown_tickets_answer_success_and_change_nothing():
    text = b"<xml><FromUserName>o1</FromUserName><MsgType>text</MsgType><Content>hi</Content></xml>"
    assert portal_post(APIClient(), text).content == b"success"
    assert portal_post(APIClient(), scan_xml(OPENID, "Q" * 32)).content == b"success"  # expired/unknown ticket
    assert User.objects.filter(username=f"wx_{OPENID}").exists()  # first sight of a signed scan creates the user


def test_a_second_wechat_user_cannot_take_a_confirmed_ticket():
    browser = APIClient()
    ticket = new_ticket(browser)
    portal_post(APIClient(), scan_xml(OPENID, ticket))
    assert portal_post(APIClient(), scan_xml("oSecondUser", ticket)).content == b"success"  # logged, not bound
    token = poll(browser, ticket)["token"]
    assert Token.objects.get(key=token).user.username == f"wx_{OPENID}"


def test_an_inactive_wechat_user_does_not_bind():
    browser = APIClient()
    first = new_ticket(browser)
    portal_post(APIClient(), scan_xml(OPENID, first))
    assert poll(browser, first)["status"] == "confirmed"
    User.objects.filter(username=f"wx_{OPENID}").update(is_active=False)
    browser = APIClient()
    ticket = new_ticket(browser)
    assert portal_post(APIClient(), scan_xml(OPENID, ticket)).content == b"success"
    assert poll(browser, ticket) == {"status": "waiting"}


def test_a_username_already_taken_gets_a_random_wechat_username():
    UserFactory(username=f"wx_{OPENID}")
    ticket = new_ticket()
    portal_post(APIClient(), scan_xml(OPENID, ticket))
    user = WeixinIdentity.objects.get(openid=OPENID).user
    assert user.username.startswith("wx_") and user.username != f"wx_{OPENID}"


# --- browser pages ----------------------------------------------------------------------------------


def test_login_page_shows_the_qr_the_poller_and_the_password_form(client):
    response = client.get("/login?next=/goods/9890001", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    ticket = re.search(r'data-ticket="([A-Za-z0-9_-]+)"', html).group(1)
    assert f'src="/login/qr/{ticket}.svg"' in html
    assert 'data-check-url="/api/v1/login/check_login"' in html
    assert 'data-next="/goods/9890001"' in html
    assert "js/login.js" in html
    assert 'name="username"' in html and 'name="password"' in html
    assert "Log in with a password" in html
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.parametrize("evil", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_next_must_stay_on_this_site(client, evil):
    html = client.get("/login", {"next": evil}).content.decode()
    assert 'data-next="/"' in html


def test_scan_login_logs_the_polling_browser_in_and_remembers_the_device(client, mobile):
    html = client.get("/login", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    ticket = re.search(r'data-ticket="([^"]+)"', html).group(1)
    assert poll(client, ticket) == {"status": "waiting"}
    mobile.post(CONFIRM_API, {"ticket": ticket}, format="json")

    response = client.get(CHECK_API, {"ticket": ticket})
    assert response.json()["data"]["status"] == "confirmed"
    assert client.session[SESSION_KEY] == str(mobile.user.pk)
    cookie = response.cookies[DEVICE_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"]
    assert int(cookie["max-age"]) >= 30 * 24 * 3600 - 5
    assert TrustedDevice.objects.get(user=mobile.user).revoked_at is None
    assert "phone-user" in client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_a_ticket_bound_to_a_browser_cannot_be_collected_by_another(client, mobile):
    html = client.get("/login").content.decode()
    ticket = re.search(r'data-ticket="([^"]+)"', html).group(1)
    mobile.post(CONFIRM_API, {"ticket": ticket}, format="json")

    onlooker = Client()  # photographed the QR code on the screen
    onlooker.get("/login")  # has a session of its own
    # api.md: any other browser sees waiting, never a login (this answered "expired" before).
    assert poll(onlooker, ticket) == {"status": "waiting"}
    assert poll(APIClient(), ticket) == {"status": "waiting"}  # no session at all
    assert poll(client, ticket)["status"] == "confirmed"  # the rightful browser still gets it
    assert SESSION_KEY not in onlooker.session


def test_the_ticket_api_binds_for_a_browser_session(client, mobile):
    client.get("/login")  # the page's session
    ticket = new_ticket(client)  # e.g. login.js asking for a fresh code
    mobile.post(CONFIRM_API, {"ticket": ticket}, format="json")
    assert poll(APIClient(), ticket) == {"status": "waiting"}
    assert poll(client, ticket)["status"] == "confirmed"


def test_password_form_logs_in_redirects_to_next_and_sets_the_device_cookie(client):
    user = UserFactory(username="shopper")
    response = client.post("/login", {"username": "shopper", "password": "pw", "next": "/goods/9890001"})
    assert response.status_code == 302
    assert response["Location"] == "/goods/9890001"
    assert client.session[SESSION_KEY] == str(user.pk)
    assert response.cookies[DEVICE_COOKIE]["httponly"]
    assert TrustedDevice.objects.filter(user=user).count() == 1


def test_password_form_refuses_a_wrong_password_and_an_evil_next(client):
    UserFactory(username="shopper")
    response = client.post("/login", {"username": "shopper", "password": "nope"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert SESSION_KEY not in client.session
    response = client.post("/login", {"username": "shopper", "password": "pw", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_password_form_needs_csrf():
    UserFactory(username="shopper")
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/login", {"username": "shopper", "password": "pw"}).status_code == 403


def test_a_logged_in_visitor_of_the_login_page_goes_to_next(client):
    client.force_login(UserFactory())
    assert client.get("/login?next=/goods/1")["Location"] == "/goods/1"


def test_login_page_without_redis_keeps_the_password_form(client, monkeypatch):
    def down():
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(services, "get_redis", down)
    response = client.get("/login", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Scan login is unavailable right now" in html
    assert 'name="password"' in html
    assert "data-ticket" not in html


def test_ticket_api_without_redis_is_0007(monkeypatch):
    def down():
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(services, "get_redis", down)
    response = APIClient().get(TICKET_API)
    assert (response.status_code, response.json()["code"]) == (503, "0007")


# --- the phone's confirm page (session users) -------------------------------------------------------


def test_scan_page_asks_an_anonymous_phone_to_log_in_first(client):
    ticket = new_ticket()
    response = client.get(f"/login/scan/{ticket}")
    assert response.status_code == 302
    assert response["Location"] == f"/login?next=%2Flogin%2Fscan%2F{ticket}"


def test_scan_page_confirms_for_a_logged_in_phone(client):
    browser = APIClient()
    ticket = new_ticket(browser)
    phone_user = UserFactory(username="phone-owner")
    client.force_login(phone_user)
    page = client.get(f"/login/scan/{ticket}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "phone-owner" in page and "Confirm login" in page
    assert poll(browser, ticket) == {"status": "waiting"}  # looking is not confirming

    done = client.post(f"/login/scan/{ticket}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-state="confirmed"' in done
    assert poll(browser, ticket)["token"] == Token.objects.get(user=phone_user).key


def test_scan_page_reports_an_expired_ticket_and_needs_csrf(client):
    client.force_login(UserFactory())
    done = client.post(f"/login/scan/{'E' * 32}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-state="failed"' in done and "ticket expired" in done
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(UserFactory(username="csrf-phone"))
    assert strict.post(f"/login/scan/{new_ticket()}").status_code == 403
