"""The inbox's services and senders: a reminder at most once, rendered when read in the reader's language, e-mailed
to users with an address after the commit, read only by its owner."""

from datetime import datetime

import pytest
from django.core import mail
from django.utils import timezone, translation

from apps.accounts.tests.factories import UserFactory
from apps.notifications.inbox import inbox_mark_all_read, inbox_message_mark_read, reminder_send
from apps.notifications.models import InboxMessage
from apps.notifications.senders import EmailSender, senders
from apps.notifications.tests.factories import InboxMessageFactory
from apps.notifications.texts import message_text

pytestmark = pytest.mark.django_db

Kind = InboxMessage.Kind


def test_a_reminder_is_stored_once_per_user_team_and_kind(django_capture_on_commit_callbacks):
    shopper = UserFactory(email="a@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        first = reminder_send(user=shopper, kind=Kind.TEAM_FORMED, team_id="12345678", params={"goodsName": "g"})
        again = reminder_send(user=shopper, kind=Kind.TEAM_FORMED, team_id="12345678", params={"goodsName": "g"})
        other_kind = reminder_send(user=shopper, kind=Kind.TEAM_EXPIRING, team_id="12345678", params={})
    assert first is not None and other_kind is not None
    assert again is None
    assert InboxMessage.objects.filter(user=shopper).count() == 2
    assert len(mail.outbox) == 2  # one e-mail per stored message, none for the repeat


def test_the_email_goes_out_only_after_the_commit_and_only_to_an_address(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        reminder_send(user=UserFactory(email="b@example.com"), kind=Kind.TEAM_FORMED, team_id="1", params={})
        reminder_send(user=UserFactory(email=""), kind=Kind.TEAM_FORMED, team_id="1", params={})
    assert mail.outbox == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert [m.to for m in mail.outbox] == [["b@example.com"]]


def test_a_failing_sender_is_logged_and_the_message_stays(monkeypatch, caplog, django_capture_on_commit_callbacks):
    def broken(self, message):
        raise OSError("SMTP down")

    monkeypatch.setattr(EmailSender, "send", broken)
    shopper = UserFactory(email="c@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        assert reminder_send(user=shopper, kind=Kind.TEAM_FORMED, team_id="1", params={}) is not None
    assert InboxMessage.objects.filter(user=shopper).exists()
    assert "not sent by email" in caplog.text


def test_the_senders_are_a_registry_with_the_inbox_first():
    assert list(senders)[:2] == ["inbox", "email"]


def test_texts_are_rendered_from_kind_and_parameters_in_the_active_language():
    end = timezone.make_aware(datetime(2026, 5, 1, 14, 5))
    with translation.override("en"):
        formed = message_text(kind=Kind.TEAM_FORMED, params={"goodsName": "DDD", "targetCount": 3})
        failed = message_text(kind=Kind.TEAM_FAILED, params={"goodsName": "DDD", "amount": "72.00"})
        one = message_text(kind=Kind.TEAM_EXPIRING, params={"goodsName": "DDD", "seatsLeft": 1,
                                                            "validEndTime": end.isoformat()})  # fmt: skip
        two = message_text(kind=Kind.TEAM_EXPIRING, params={"goodsName": "DDD", "seatsLeft": 2,
                                                            "validEndTime": end.isoformat()})  # fmt: skip
        bare = message_text(kind=Kind.TEAM_EXPIRING, params={})
    assert formed.title == "Your team is formed"
    assert failed.body == "DDD: the team did not fill up in time. ¥72.00 has been refunded to you."
    assert one.body == "DDD: 1 seat is still free and the team closes at 14:05. Invite a friend!"
    assert "2 seats are still free" in two.body
    assert bare.title == "Your team is about to expire"  # an old message missing a parameter still renders


def test_marking_read_touches_only_the_owners_message_and_keeps_the_first_time():
    mine = InboxMessageFactory()
    theirs = InboxMessageFactory()
    read = inbox_message_mark_read(user=mine.user, message_id=mine.pk)
    assert read is not None and read.read_at is not None
    assert inbox_message_mark_read(user=mine.user, message_id=mine.pk).read_at == read.read_at
    assert inbox_message_mark_read(user=mine.user, message_id=theirs.pk) is None
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_marking_all_read_is_the_users_own():
    mine = InboxMessageFactory()
    InboxMessageFactory(user=mine.user)
    theirs = InboxMessageFactory()
    assert inbox_mark_all_read(user=mine.user) == 2
    assert InboxMessage.objects.filter(read_at__isnull=True).get() == theirs


def test_the_email_links_the_inbox_at_the_configured_public_url_never_a_requests_host(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.PAYMENT_NOTIFY_BASE_URL = "https://shop.example.com/"
    settings.LANGUAGE_CODE = "zh-hans"
    with django_capture_on_commit_callbacks(execute=True):
        reminder_send(user=UserFactory(email="d@example.com"), kind=Kind.TEAM_FORMED, team_id="9", params={})
    (email,) = mail.outbox
    assert email.body.rstrip().endswith("所有消息都在消息中心：https://shop.example.com/inbox/")
    settings.PAYMENT_NOTIFY_BASE_URL = ""
    monkeypatch.setenv("SERVER_BASE_URL", "http://127.0.0.1:8123")  # the embedded server's own address
    settings.LANGUAGE_CODE = "en"
    with django_capture_on_commit_callbacks(execute=True):
        reminder_send(user=UserFactory(email="e@example.com"), kind=Kind.TEAM_FORMED, team_id="9", params={})
    assert mail.outbox[-1].body.rstrip().endswith("All your messages are in your inbox: http://127.0.0.1:8123/inbox/")
