"""Re-queueing failed notify tasks sends callbacks to channels again: it needs the change permission
on notify tasks; view-only staff neither see nor run it."""

import pytest
from django.urls import reverse

from apps.accounts.tests.admin_actions import client_of, offered_actions, post_action, staff_with
from apps.notifications.models import NotifyTask

pytestmark = pytest.mark.django_db

URL = reverse("admin:notifications_notifytask_changelist")


@pytest.fixture
def failed_task() -> NotifyTask:
    return NotifyTask.objects.create(
        activity_id=500001, team_id="12345678", notify_category=NotifyTask.Category.choices[0][0], notify_type="HTTP",
        notify_url="http://127.0.0.1:9/cb", parameter_json={}, notify_status=NotifyTask.Status.FAILED, notify_count=5,
    )  # fmt: skip


def test_view_only_staff_cannot_requeue(failed_task):
    viewer = client_of(staff_with("notifications.view_notifytask"))
    assert "requeue" not in offered_actions(viewer, URL)
    post_action(viewer, URL, "requeue", [failed_task.pk])
    failed_task.refresh_from_db()
    assert (failed_task.notify_status, failed_task.notify_count) == (NotifyTask.Status.FAILED, 5)


def test_staff_with_change_requeues(failed_task):
    operator = client_of(staff_with("notifications.view_notifytask", "notifications.change_notifytask"))
    assert "requeue" in offered_actions(operator, URL)
    assert post_action(operator, URL, "requeue", [failed_task.pk]).status_code == 302
    failed_task.refresh_from_db()
    assert (failed_task.notify_status, failed_task.notify_count) == (NotifyTask.Status.RETRY, 0)
