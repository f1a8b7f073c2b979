"""The back office for crowd tags: upload a CSV, run and reset jobs, rebuild bitmaps, see progress."""

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.common.redis import get_redis
from apps.tags import services
from apps.tags.bitmap import bitmap_contains
from apps.tags.models import CrowdTag, CrowdTagDetail, CrowdTagJob
from apps.tags.services import crowd_tag_add_members, crowd_tag_job_run
from apps.tags.tests.factories import CrowdTagDetailFactory, CrowdTagFactory, CrowdTagJobFactory
from apps.tags.tests.test_bitmap_selectors import WINDOW_END, WINDOW_START, make_trading_history

pytestmark = pytest.mark.django_db

Status = CrowdTagJob.Status
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
JOBS_URL = reverse("admin:tags_crowdtagjob_changelist")


def job_form(tag: CrowdTag, **overrides) -> dict:
    data = {
        "tag": tag.tag_id,
        "tag_type": str(CrowdTagJob.TagType.CSV_IMPORT),
        "tag_rule": "",
        "stat_start_time_0": "",
        "stat_start_time_1": "",
        "stat_end_time_0": "",
        "stat_end_time_1": "",
    }
    data.update(overrides)
    return data


def post_action(client, url: str, action: str, objects, capture) -> list[str]:
    """POST an admin action like the changelist does; run the on_commit callbacks; return the messages."""
    with capture(execute=True):
        response = client.post(
            url, {"action": action, "_selected_action": [str(obj.pk) for obj in objects]}, follow=True, **EN
        )
    assert response.status_code == 200
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_csv_import_starts_on_save_with_a_generated_batch_id(
    staff_client, tasks_run_inline, django_capture_on_commit_callbacks
):
    tag = CrowdTagFactory()
    upload = SimpleUploadedFile("shoppers.csv", b"user_id,name\nu1,Ann\n u2 ,Bo\n\nu1,Ann again\n", "text/csv")
    add_page = staff_client.get(reverse("admin:tags_crowdtagjob_add"), **EN).content.decode()
    assert 'name="batch_id"' not in add_page  # generated, not typed
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("admin:tags_crowdtagjob_add"), job_form(tag, source_file=upload), **EN)
    assert response.status_code == 302, response.content.decode()[:3000]
    job = CrowdTagJob.objects.get()
    assert re.fullmatch(r"\d{14}[0-9A-F]{6}", job.batch_id)
    assert tasks_run_inline == [("apps.tags.tasks.run_crowd_tag_job", (job.pk,))]  # no separate "run" step
    job.refresh_from_db()
    assert (job.status, job.progress, job.total, job.error) == (Status.DONE, 2, 2, "")
    assert job.source_file.name.startswith("crowd_tags/shoppers")
    tag.refresh_from_db()
    assert tag.statistics == 2
    assert sorted(CrowdTagDetail.objects.values_list("user_id", flat=True)) == ["u1", "u2"]
    assert bitmap_contains(tag.tag_id, "u1")
    assert bitmap_contains(tag.tag_id, "u2")

    listing = staff_client.get(response["Location"], **EN).content.decode()
    assert f"Job {job.batch_id} started" in listing
    assert "100% (2 of 2 users)" in listing
    page = staff_client.get(reverse("admin:tags_crowdtagjob_change", args=[job.pk]), **EN).content.decode()
    assert job.batch_id in page
    assert "100% (2 of 2 users)" in page


def test_a_running_job_shows_its_progress_as_a_percentage_of_its_users(staff_client):
    job = CrowdTagJobFactory(status=Status.RUNNING, progress=1000, total=4000)
    page = staff_client.get(reverse("admin:tags_crowdtagjob_change", args=[job.pk]), **EN).content.decode()
    assert "25% (1000 of 4000 users)" in page
    assert 'http-equiv="refresh"' in page  # the page follows the job while it runs
    assert "25%" in staff_client.get(JOBS_URL, **EN).content.decode()


def test_reset_then_run_again_through_the_admin_is_idempotent(
    staff_client, tasks_run_inline, django_capture_on_commit_callbacks
):
    job = CrowdTagJobFactory(source_file=SimpleUploadedFile("u.csv", b"u1\nu2\nu3\n"))
    crowd_tag_job_run(job_id=job.pk)

    messages = post_action(staff_client, JOBS_URL, "run_jobs", [job], django_capture_on_commit_callbacks)
    assert tasks_run_inline == []  # a done job is not queued again
    assert messages == [
        f"Not run, only new or reset jobs run (reset a done or failed job first): {job.batch_id} (done)"
    ]

    messages = post_action(staff_client, JOBS_URL, "reset_jobs", [job], django_capture_on_commit_callbacks)
    assert messages[0].startswith(f"Reset 1 job: {job.batch_id}. Its members are kept")
    job.refresh_from_db()
    assert (job.status, job.progress) == (Status.RESET, 0)
    assert CrowdTagDetail.objects.count() == 3

    post_action(staff_client, JOBS_URL, "run_jobs", [job], django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert (job.status, job.progress) == (Status.DONE, 3)
    assert CrowdTagDetail.objects.count() == 3
    assert CrowdTag.objects.get(pk=job.tag.pk).statistics == 3


def test_a_running_job_is_not_reset(staff_client, django_capture_on_commit_callbacks):
    job = CrowdTagJobFactory(status=Status.RUNNING, progress=4)
    messages = post_action(staff_client, JOBS_URL, "reset_jobs", [job], django_capture_on_commit_callbacks)
    assert len(messages) == 1
    assert messages[0].startswith(f"Not reset: {job.batch_id}: crowd tag job {job.pk} is running")
    job.refresh_from_db()
    assert (job.status, job.progress) == (Status.RUNNING, 4)


def test_a_failing_csv_ends_failed_with_the_error_in_the_list(
    staff_client, tasks_run_inline, django_capture_on_commit_callbacks
):
    # A file replaced in storage (or a job made outside the form) is still checked by the job itself.
    job = CrowdTagJobFactory(source_file=SimpleUploadedFile("u.csv", ("u1\n" + "x" * 65 + "\n").encode()))
    post_action(staff_client, JOBS_URL, "run_jobs", [job], django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert job.error == "1 invalid line: line 2: user id longer than 64 characters"
    assert not CrowdTagDetail.objects.exists()
    listing = staff_client.get(JOBS_URL, **EN).content.decode()
    assert "failed" in listing
    assert "line 2: user id longer than 64 characters" in listing
    page = staff_client.get(reverse("admin:tags_crowdtagjob_change", args=[job.pk]), **EN).content.decode()
    assert "line 2: user id longer than 64 characters" in page


def test_trading_history_job_through_the_admin(staff_client, tasks_run_inline, django_capture_on_commit_callbacks):
    make_trading_history()
    tag = CrowdTagFactory()
    form = job_form(
        tag,
        tag_type=str(CrowdTagJob.TagType.TRADING_HISTORY),
        tag_rule=" 2 ",
        # the admin shows local time (Asia/Shanghai, UTC+8)
        stat_start_time_0="2025-01-01",
        stat_start_time_1="08:00:00",
        stat_end_time_0="2025-02-01",
        stat_end_time_1="08:00:00",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("admin:tags_crowdtagjob_add"), form, **EN)
    assert response.status_code == 302, response.content.decode()[:3000]
    job = CrowdTagJob.objects.get()
    assert (job.stat_start_time, job.stat_end_time, job.tag_rule) == (WINDOW_START, WINDOW_END, "2")
    job.refresh_from_db()
    assert (job.status, job.progress) == (Status.DONE, 3)
    assert sorted(CrowdTagDetail.objects.values_list("user_id", flat=True)) == ["alice", "carol", "frank"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "A CSV import job needs a file of user ids."),
        ({"source_file": SimpleUploadedFile("u.xlsx", b"u1\n")}, "File extension “xlsx” is not allowed"),
        ({"source_file": SimpleUploadedFile("u.csv", b"u1\n" + b"y" * 65)}, "line 2: user id longer than 64"),
        ({"source_file": SimpleUploadedFile("u.csv", b"\xff\xfe")}, "not UTF-8"),
        ({"tag_type": "1", "tag_rule": "1"}, "A trading-history job needs its window."),
        (
            {"tag_type": "1", "tag_rule": "", "stat_start_time_0": "2025-01-01", "stat_start_time_1": "00:00:00"},
            "Enter the minimum number of paid orders",
        ),
        (
            {
                "tag_type": "1",
                "tag_rule": "0",
                "stat_start_time_0": "2025-01-01",
                "stat_start_time_1": "00:00:00",
                "stat_end_time_0": "2025-02-01",
                "stat_end_time_1": "00:00:00",
            },
            "The rule must be a positive whole number of paid orders.",
        ),
        (
            {
                "tag_type": "1",
                "tag_rule": "1",
                "stat_start_time_0": "2025-02-01",
                "stat_start_time_1": "00:00:00",
                "stat_end_time_0": "2025-01-01",
                "stat_end_time_1": "00:00:00",
            },
            "The window end must be after its start.",
        ),
    ],
)
def test_job_form_refuses_what_cannot_run(staff_client, overrides, message):
    tag = CrowdTagFactory()
    response = staff_client.post(reverse("admin:tags_crowdtagjob_add"), job_form(tag, **overrides), **EN)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not CrowdTagJob.objects.exists()


def test_job_form_refuses_files_over_the_limit(staff_client, monkeypatch):
    monkeypatch.setattr(services, "CROWD_TAG_CSV_MAX_BYTES", 1024 * 1024)
    upload = SimpleUploadedFile("u.csv", b"u1\n" * (1024 * 1024 // 3 + 1))
    response = staff_client.post(
        reverse("admin:tags_crowdtagjob_add"), job_form(CrowdTagFactory(), source_file=upload), **EN
    )
    assert response.status_code == 200
    assert "The file is larger than 1 MB." in response.content.decode()


def test_saving_a_job_page_never_overwrites_what_the_job_wrote(staff_client):
    job = CrowdTagJobFactory()
    url = reverse("admin:tags_crowdtagjob_change", args=[job.pk])
    assert staff_client.get(url).status_code == 200  # the operator opens the page of a NEW job...
    crowd_tag_job_run(job_id=job.pk)  # ...the job runs meanwhile...
    response = staff_client.post(url, job_form(job.tag, tag_rule="ignored"), **EN)
    assert response.status_code == 302, response.content.decode()[:3000]  # ...and the page is saved
    job.refresh_from_db()
    assert (job.status, job.progress, job.tag_rule) == (Status.DONE, 2, "ignored")


def test_a_running_job_cannot_be_edited(staff_client):
    job = CrowdTagJobFactory(status=Status.RUNNING)
    url = reverse("admin:tags_crowdtagjob_change", args=[job.pk])
    staff_client.post(url, job_form(job.tag, batch_id="CHANGED"), **EN)
    job.refresh_from_db()
    assert job.batch_id != "CHANGED"
    assert job.status == Status.RUNNING


def test_rebuild_bitmap_action(staff_client, tasks_run_inline, django_capture_on_commit_callbacks):
    tags = [CrowdTagFactory(), CrowdTagFactory()]
    for tag in tags:
        crowd_tag_add_members(tag=tag, user_ids=[f"{tag.tag_id}-a", f"{tag.tag_id}-b"])
    get_redis().flushdb()
    url = reverse("admin:tags_crowdtag_changelist")
    messages = post_action(staff_client, url, "rebuild_bitmaps", tags, django_capture_on_commit_callbacks)
    assert messages[0].startswith("Bitmap rebuild queued for 2 tags")
    for tag in tags:
        assert bitmap_contains(tag.tag_id, f"{tag.tag_id}-a")
        assert bitmap_contains(tag.tag_id, f"{tag.tag_id}-b")


def test_deleting_members_in_the_admin_rebuilds_their_tag(
    staff_client, tasks_run_inline, django_capture_on_commit_callbacks
):
    tag = CrowdTagFactory()
    crowd_tag_add_members(tag=tag, user_ids=["keep", "drop1", "drop2"])
    doomed = list(CrowdTagDetail.objects.filter(user_id__startswith="drop"))
    url = reverse("admin:tags_crowdtagdetail_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            url, {"action": "delete_selected", "_selected_action": [d.pk for d in doomed], "post": "yes"}, **EN
        )
    assert response.status_code == 302
    assert tasks_run_inline == [("apps.tags.tasks.rebuild_crowd_tag_bitmap", (tag.tag_id,))]
    assert CrowdTag.objects.get(pk=tag.pk).statistics == 1
    assert bitmap_contains(tag.tag_id, "keep")
    assert not bitmap_contains(tag.tag_id, "drop1")


def test_adding_a_member_in_the_admin_sets_its_bit(staff_client, tasks_run_inline, django_capture_on_commit_callbacks):
    tag = CrowdTagFactory()
    CrowdTagDetailFactory(tag=tag, user_id="old")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:tags_crowdtagdetail_add"), {"tag": tag.tag_id, "user_id": "new"}, **EN
        )
    assert response.status_code == 302
    assert CrowdTag.objects.get(pk=tag.pk).statistics == 2
    assert bitmap_contains(tag.tag_id, "new")
    assert bitmap_contains(tag.tag_id, "old")


def test_job_pages_open(staff_client):
    job = CrowdTagJobFactory(status=Status.FAILED, error="e" * 300)
    listing = staff_client.get(JOBS_URL, **EN).content.decode()
    assert "e" * 117 + "..." in listing
    assert staff_client.get(reverse("admin:tags_crowdtagjob_add")).status_code == 200
    assert staff_client.get(reverse("admin:tags_crowdtagjob_change", args=[job.pk])).status_code == 200
    running = CrowdTagJobFactory(status=Status.RUNNING, stat_start_time=WINDOW_START - timedelta(days=1))
    assert staff_client.get(reverse("admin:tags_crowdtagjob_change", args=[running.pk])).status_code == 200
