"""The bell on every page and the inbox page: counts only the shopper's unread messages in one query (none for
visitors), lists them in the reader's language, marks read by POST with CSRF, and 404s another shopper's id."""

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from apps.accounts.tests.factories import UserFactory
from apps.notifications.context_processors import inbox
from apps.notifications.models import InboxMessage
from apps.notifications.tests.factories import InboxMessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopper():
    return UserFactory(username="demo1")


@pytest.fixture
def logged_in(client, shopper):
    client.force_login(shopper)
    return client


def bell(html: str) -> str | None:
    found = re.search(r'class="inbox-bell[^"]*"[^>]*data-unread="(\d+)"', html)
    return found.group(1) if found else None


def inbox_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "inbox_message" in q["sql"]]


def test_the_bell_counts_my_unread_messages_in_one_query(logged_in, shopper):
    InboxMessageFactory.create_batch(2, user=shopper)
    InboxMessageFactory(user=shopper, read_at="2026-01-01T00:00:00Z")
    InboxMessageFactory()  # someone else's
    with CaptureQueriesContext(connection) as queries:
        html = logged_in.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert bell(html) == "2"
    assert 'class="inbox-count">2<' in html
    assert len(inbox_queries(queries.captured_queries)) == 1


def test_no_unread_message_shows_a_bell_without_a_number(logged_in):
    html = logged_in.get("/orders").content.decode()
    assert bell(html) == "0"
    assert "inbox-count" not in html


def test_a_visitor_sees_no_bell_and_costs_no_inbox_query(client, django_assert_num_queries):
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/").content.decode()
    assert bell(html) is None
    assert inbox_queries(queries.captured_queries) == []
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    with django_assert_num_queries(0):
        assert inbox(request) == {}


def test_the_inbox_lists_my_messages_newest_first_in_my_language(logged_in, shopper):
    InboxMessageFactory(user=shopper, kind=InboxMessage.Kind.TEAM_FAILED, team_id="11111111",
                        params={"goodsName": "DDD", "amount": "72.00"})  # fmt: skip
    InboxMessageFactory(user=shopper, kind=InboxMessage.Kind.TEAM_FORMED, team_id="22222222",
                        params={"goodsName": "Java"})  # fmt: skip
    InboxMessageFactory(params={"goodsName": "not mine"})
    html = logged_in.get("/inbox/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert html.index("Java: the team is complete") < html.index("¥72.00 has been refunded")
    assert "not mine" not in html
    assert 'href="/teams/22222222"' in html
    assert html.count('class="inbox-read"') == 2


def test_the_inbox_needs_a_login(client):
    answer = client.get("/inbox/")
    assert answer.status_code == 302 and "/login" in answer["Location"]


def test_marking_read_is_a_post_of_my_own_message(logged_in, shopper):
    mine = InboxMessageFactory(user=shopper)
    theirs = InboxMessageFactory()
    assert logged_in.get(f"/inbox/{mine.pk}/read").status_code == 405  # never a GET
    assert logged_in.post(f"/inbox/{theirs.pk}/read").status_code == 404
    answer = logged_in.post(f"/inbox/{mine.pk}/read")
    assert (answer.status_code, answer["Location"]) == (302, "/inbox/")
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.read_at is not None and theirs.read_at is None
    assert bell(logged_in.get("/inbox/").content.decode()) == "0"


def test_marking_read_needs_the_csrf_token(shopper):
    message = InboxMessageFactory(user=shopper)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(shopper)
    assert browser.post(f"/inbox/{message.pk}/read").status_code == 403
    assert browser.post("/inbox/read-all").status_code == 403
    message.refresh_from_db()
    assert message.read_at is None
    html = browser.get("/inbox/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    assert browser.post(f"/inbox/{message.pk}/read", {"csrfmiddlewaretoken": token}).status_code == 302
    message.refresh_from_db()
    assert message.read_at is not None


def test_mark_all_read(logged_in, shopper):
    InboxMessageFactory.create_batch(3, user=shopper)
    other = InboxMessageFactory()
    assert logged_in.post("/inbox/read-all").status_code == 302
    assert not InboxMessage.objects.filter(user=shopper, read_at__isnull=True).exists()
    other.refresh_from_db()
    assert other.read_at is None


def test_staff_see_what_shoppers_were_told_read_only(admin_client):
    message = InboxMessageFactory(team_id="33333333")
    listing = admin_client.get("/admin/notifications/inboxmessage/")
    assert listing.status_code == 200 and "33333333" in listing.content.decode()
    assert admin_client.get("/admin/notifications/inboxmessage/add/").status_code == 403
    assert (
        admin_client.post(f"/admin/notifications/inboxmessage/{message.pk}/delete/", {"post": "yes"}).status_code == 403
    )
