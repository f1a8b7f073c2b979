"""The inbox in the mall API: my messages (token), rendered in the request's language, marked read one by one;
another shopper's id is 404, no token is 401; both paths are in the OpenAPI schema."""

import pytest

from apps.notifications.models import InboxMessage
from apps.notifications.tests.factories import InboxMessageFactory
from apps.payments.tests.helpers import mobile_client, user

pytestmark = pytest.mark.django_db


def test_my_inbox_newest_first_with_the_unread_count():
    phone = mobile_client("demo1")
    shopper = user("demo1")
    InboxMessageFactory(user=shopper, kind=InboxMessage.Kind.TEAM_FAILED, team_id="11111111",
                        params={"goodsName": "DDD", "amount": "72.00"}, read_at="2026-01-01T00:00:00Z")  # fmt: skip
    newest = InboxMessageFactory(user=shopper, kind=InboxMessage.Kind.TEAM_EXPIRING, team_id="22222222",
                                 params={"goodsName": "Java", "seatsLeft": 2, "minutes": 5,
                                         "validEndTime": "2026-05-01T14:05:00+08:00"})  # fmt: skip
    InboxMessageFactory()  # someone else's
    answer = phone.get("/api/v1/mall/inbox", HTTP_ACCEPT_LANGUAGE="en").json()
    assert answer["code"] == "0000"
    data = answer["data"]
    assert (data["count"], data["unreadCount"], data["limit"], data["offset"]) == (2, 1, 20, 0)
    first = data["results"][0]
    assert first == {
        "id": newest.pk,
        "kind": "team_expiring",
        "teamId": "22222222",
        "title": "Your team is about to expire",
        "body": "Java: 2 seats are still free and the team closes at 14:05. Invite a friend!",
        "params": newest.params,
        "read": False,
        "createTime": first["createTime"],
        "readTime": None,
    }
    assert data["results"][1]["read"] is True


def test_marking_read_is_idempotent_and_only_mine():
    phone = mobile_client("demo1")
    mine = InboxMessageFactory(user=user("demo1"))
    theirs = InboxMessageFactory()
    first = phone.post(f"/api/v1/mall/inbox/{mine.pk}/read").json()
    again = phone.post(f"/api/v1/mall/inbox/{mine.pk}/read").json()
    assert first["data"]["read"] is True
    assert again["data"]["readTime"] == first["data"]["readTime"]
    answer = phone.post(f"/api/v1/mall/inbox/{theirs.pk}/read")
    assert answer.status_code == 404
    assert answer.json()["data"] is None
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert phone.get(f"/api/v1/mall/inbox/{mine.pk}/read").status_code == 405


def test_no_token_no_inbox(client):
    assert client.get("/api/v1/mall/inbox").status_code == 401
    assert client.post("/api/v1/mall/inbox/1/read").status_code == 401


def test_the_schema_documents_the_inbox(client):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]
    assert set(paths["/api/v1/mall/inbox"]) >= {"get"}
    assert set(paths["/api/v1/mall/inbox/{message_id}/read"]) >= {"post"}
