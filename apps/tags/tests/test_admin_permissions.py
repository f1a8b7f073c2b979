"""Crowd-tag admin actions change state (Redis bitmaps, import jobs): view-only staff neither see nor
run them; staff with the model's change permission do."""

import pytest
from django.urls import reverse

from apps.accounts.tests.admin_actions import client_of, offered_actions, post_action, staff_with
from apps.tags.models import CrowdTagJob
from apps.tags.tests.factories import CrowdTagFactory, CrowdTagJobFactory

pytestmark = pytest.mark.django_db

TAGS_URL = reverse("admin:tags_crowdtag_changelist")
JOBS_URL = reverse("admin:tags_crowdtagjob_changelist")


def test_view_only_staff_cannot_rebuild_bitmaps(tasks_run_inline, django_capture_on_commit_callbacks):
    tag = CrowdTagFactory()
    viewer = client_of(staff_with("tags.view_crowdtag"))
    assert "rebuild_bitmaps" not in offered_actions(viewer, TAGS_URL)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        post_action(viewer, TAGS_URL, "rebuild_bitmaps", [tag.pk])
    assert (callbacks, tasks_run_inline) == ([], [])


def test_staff_with_change_rebuilds_bitmaps(tasks_run_inline, django_capture_on_commit_callbacks):
    tag = CrowdTagFactory()
    editor = client_of(staff_with("tags.view_crowdtag", "tags.change_crowdtag"))
    assert "rebuild_bitmaps" in offered_actions(editor, TAGS_URL)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_action(editor, TAGS_URL, "rebuild_bitmaps", [tag.pk]).status_code == 302
    assert tasks_run_inline == [("apps.tags.tasks.rebuild_crowd_tag_bitmap", (tag.tag_id,))]


def test_view_only_staff_cannot_run_or_reset_jobs(tasks_run_inline, django_capture_on_commit_callbacks):
    new = CrowdTagJobFactory()
    done = CrowdTagJobFactory(status=CrowdTagJob.Status.DONE)
    viewer = client_of(staff_with("tags.view_crowdtagjob"))
    assert not {"run_jobs", "reset_jobs"} & offered_actions(viewer, JOBS_URL)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        post_action(viewer, JOBS_URL, "run_jobs", [new.pk])
        post_action(viewer, JOBS_URL, "reset_jobs", [done.pk])
    assert (callbacks, tasks_run_inline) == ([], [])
    assert CrowdTagJob.objects.get(pk=done.pk).status == CrowdTagJob.Status.DONE


def test_staff_with_change_runs_and_resets_jobs(tasks_run_inline, django_capture_on_commit_callbacks):
    new = CrowdTagJobFactory()
    done = CrowdTagJobFactory(status=CrowdTagJob.Status.DONE)
    editor = client_of(staff_with("tags.view_crowdtagjob", "tags.change_crowdtagjob"))
    assert {"run_jobs", "reset_jobs"} <= offered_actions(editor, JOBS_URL)
    with django_capture_on_commit_callbacks(execute=False):  # queued, not run: the run itself is tested elsewhere
        assert post_action(editor, JOBS_URL, "run_jobs", [new.pk]).status_code == 302
    assert post_action(editor, JOBS_URL, "reset_jobs", [done.pk]).status_code == 302
    assert CrowdTagJob.objects.get(pk=done.pk).status != CrowdTagJob.Status.DONE
