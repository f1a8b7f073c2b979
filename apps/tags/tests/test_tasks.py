"""The Celery tasks: thin, idempotent, with their own retry policy (run in process with ``apply``)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from apps.common.redis import get_redis
from apps.tags import services
from apps.tags.bitmap import bitmap_contains
from apps.tags.models import CrowdTagDetail, CrowdTagJob
from apps.tags.services import crowd_tag_add_members
from apps.tags.tasks import rebuild_crowd_tag_bitmap, run_crowd_tag_job
from apps.tags.tests.factories import CrowdTagFactory, CrowdTagJobFactory

pytestmark = pytest.mark.django_db

Status = CrowdTagJob.Status


def test_retry_policy():
    for task in (run_crowd_tag_job, rebuild_crowd_tag_bitmap):
        assert task.max_retries == 3
        assert OperationalError in task.autoretry_for
        assert RedisConnectionError in task.autoretry_for
        assert task.retry_backoff


def test_run_task_runs_a_job_once():
    job = CrowdTagJobFactory(source_file=SimpleUploadedFile("u.csv", b"u1\nu2\n"))
    assert run_crowd_tag_job.apply(args=[job.pk]).get() == Status.DONE
    assert run_crowd_tag_job.apply(args=[job.pk]).get() is None  # a redelivery changes nothing
    assert CrowdTagDetail.objects.count() == 2


def test_run_task_for_a_deleted_job_does_nothing():
    assert run_crowd_tag_job.apply(args=[424242]).get() is None


@pytest.fixture
def eager_retries(monkeypatch):
    """An eager ``apply`` performs retries only when errors do not propagate (as on a worker)."""
    monkeypatch.setitem(run_crowd_tag_job.app.conf, "task_eager_propagates", False)


def test_a_transient_error_is_retried_and_the_job_completes(monkeypatch, eager_retries):
    job = CrowdTagJobFactory(source_file=SimpleUploadedFile("u.csv", b"u1\nu2\n"))
    real_bitmap_add = services.bitmap_add
    attempts = []

    def flaky(tag_id, user_ids):
        attempts.append(user_ids)
        if len(attempts) < 3:
            raise RedisConnectionError("Redis is restarting")
        real_bitmap_add(tag_id, user_ids)

    monkeypatch.setattr(services, "bitmap_add", flaky)
    assert run_crowd_tag_job.apply(args=[job.pk]).get() == Status.DONE
    assert len(attempts) == 3
    done = CrowdTagJob.objects.get(pk=job.pk)
    assert (done.status, done.progress, done.error) == (Status.DONE, 2, "")
    assert bitmap_contains(job.tag.tag_id, "u2")


def test_a_persisting_transient_error_fails_the_job_after_three_retries(monkeypatch, eager_retries):
    job = CrowdTagJobFactory(source_file=SimpleUploadedFile("u.csv", b"u1\n"))
    attempts = []

    def down(tag_id, user_ids):
        attempts.append(user_ids)
        raise RedisConnectionError("Redis is down")

    monkeypatch.setattr(services, "bitmap_add", down)
    result = run_crowd_tag_job.apply(args=[job.pk])
    assert result.failed()
    assert isinstance(result.result, RedisConnectionError)
    assert len(attempts) == 4  # the first try and 3 retries
    failed = CrowdTagJob.objects.get(pk=job.pk)
    assert (failed.status, failed.error) == (Status.FAILED, "ConnectionError: Redis is down")
    assert not CrowdTagDetail.objects.exists()


def test_rebuild_task():
    tag = CrowdTagFactory()
    crowd_tag_add_members(tag=tag, user_ids=["u1"])
    get_redis().flushdb()
    assert rebuild_crowd_tag_bitmap.apply(args=[tag.tag_id]).get() == 1
    assert bitmap_contains(tag.tag_id, "u1")
    assert rebuild_crowd_tag_bitmap.apply(args=["NO-SUCH-TAG"]).get() is None
