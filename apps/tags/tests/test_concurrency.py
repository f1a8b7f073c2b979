"""Concurrency against real MariaDB: one job claimed once; two jobs on one tag keep statistics exact."""

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from apps.tags import services
from apps.tags.bitmap import bitmap_contains
from apps.tags.models import CrowdTag, CrowdTagDetail, CrowdTagJob
from apps.tags.services import crowd_tag_job_run
from apps.tags.tests.factories import CrowdTagFactory, CrowdTagJobFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def run_in_threads(job_ids: list[int]) -> list:
    """Start one thread per job id at the same instant; return what each ``crowd_tag_job_run`` returned."""
    barrier = threading.Barrier(len(job_ids))
    results: list = [None] * len(job_ids)
    errors: list[BaseException] = []

    def work(index: int, job_id: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = crowd_tag_job_run(job_id=job_id)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n, job_id)) for n, job_id in enumerate(job_ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def users(start: int, stop: int) -> bytes:
    return "\n".join(f"u{n}" for n in range(start, stop)).encode()


def test_the_same_job_started_twice_runs_once(mariadb, monkeypatch):
    monkeypatch.setattr(services, "CROWD_TAG_JOB_BATCH_SIZE", 10)
    job = CrowdTagJobFactory(source_file=SimpleUploadedFile("u.csv", users(0, 50)))
    batches = []
    real_bitmap_add = services.bitmap_add

    def counting(tag_id, user_ids):
        batches.append(list(user_ids))
        real_bitmap_add(tag_id, user_ids)

    monkeypatch.setattr(services, "bitmap_add", counting)
    results = run_in_threads([job.pk, job.pk])
    assert sorted(result is None for result in results) == [False, True]  # one ran, one was turned away
    assert len(batches) == 5  # 50 users in batches of 10, once
    job.refresh_from_db()
    assert (job.status, job.progress) == (CrowdTagJob.Status.DONE, 50)
    assert CrowdTagDetail.objects.count() == 50
    assert CrowdTag.objects.get(pk=job.tag.pk).statistics == 50


def test_two_jobs_filling_one_tag_keep_statistics_exact(mariadb, monkeypatch):
    monkeypatch.setattr(services, "CROWD_TAG_JOB_BATCH_SIZE", 7)
    tag = CrowdTagFactory()
    first = CrowdTagJobFactory(tag=tag, source_file=SimpleUploadedFile("a.csv", users(0, 60)))
    second = CrowdTagJobFactory(tag=tag, source_file=SimpleUploadedFile("b.csv", users(30, 90)))  # u30..u59 overlap
    results = run_in_threads([first.pk, second.pk])
    assert [result.status for result in results] == [CrowdTagJob.Status.DONE, CrowdTagJob.Status.DONE]
    assert [result.progress for result in results] == [60, 60]
    members = set(CrowdTagDetail.objects.filter(tag=tag).values_list("user_id", flat=True))
    assert members == {f"u{n}" for n in range(90)}
    assert CrowdTag.objects.get(pk=tag.pk).statistics == 90
    assert all(bitmap_contains(tag.tag_id, user_id) for user_id in members)
