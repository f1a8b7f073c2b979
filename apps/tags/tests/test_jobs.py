"""Crowd tag jobs through their services: claim, collect, add in batches, finish; reset; failures."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation
from redis.exceptions import ConnectionError as RedisConnectionError

from apps.common.errors import GroupBuyError
from apps.tags import services
from apps.tags.bitmap import bitmap_contains
from apps.tags.models import CrowdTag, CrowdTagDetail, CrowdTagJob
from apps.tags.services import crowd_tag_add_members, crowd_tag_job_reset, crowd_tag_job_run
from apps.tags.tests.factories import CrowdTagFactory, CrowdTagJobFactory
from apps.tags.tests.test_bitmap_selectors import WINDOW_END, WINDOW_START, make_trading_history

pytestmark = pytest.mark.django_db

Status = CrowdTagJob.Status


def csv_job(data: bytes, **kwargs) -> CrowdTagJob:
    return CrowdTagJobFactory.create(source_file=SimpleUploadedFile("users.csv", data), **kwargs)


def members(tag: CrowdTag) -> list[str]:
    return sorted(CrowdTagDetail.objects.filter(tag=tag).values_list("user_id", flat=True))


def assert_tag_consistent(tag: CrowdTag) -> None:
    """statistics is the exact detail count, and every detail user is in the bitmap."""
    tag.refresh_from_db()
    users = members(tag)
    assert tag.statistics == len(users)
    assert all(bitmap_contains(tag.tag_id, user_id) for user_id in users)


def test_csv_import_fills_the_tag():
    job = csv_job(b"user_id\n u1 \n\nu2\nu3\nu2\n")
    done = crowd_tag_job_run(job_id=job.pk)
    assert (done.status, done.progress, done.error) == (Status.DONE, 3, "")
    assert members(job.tag) == ["u1", "u2", "u3"]
    assert_tag_consistent(job.tag)
    assert not bitmap_contains(job.tag.tag_id, "u4")


def test_a_done_job_does_not_run_again_until_reset():
    job = csv_job(b"u1\nu2\n")
    crowd_tag_job_run(job_id=job.pk)
    finished = CrowdTagJob.objects.get(pk=job.pk)
    assert crowd_tag_job_run(job_id=job.pk) is None
    again = CrowdTagJob.objects.get(pk=job.pk)
    assert (again.status, again.progress, again.update_time) == (Status.DONE, 2, finished.update_time)


@pytest.mark.parametrize("status", [Status.RUNNING, Status.DONE, Status.FAILED])
def test_only_new_or_reset_jobs_are_claimed(status):
    job = csv_job(b"u1\n", status=status)
    assert crowd_tag_job_run(job_id=job.pk) is None
    assert CrowdTagJob.objects.get(pk=job.pk).status == status
    assert not CrowdTagDetail.objects.exists()


def test_a_missing_job_is_not_claimed():
    assert crowd_tag_job_run(job_id=987654) is None


def test_rerun_after_reset_is_idempotent():
    job = csv_job(b"u1\nu2\nu3\n")
    crowd_tag_job_run(job_id=job.pk)
    ids_before = sorted(CrowdTagDetail.objects.values_list("pk", flat=True))

    reset = crowd_tag_job_reset(job_id=job.pk)
    assert (reset.status, reset.progress, reset.error) == (Status.RESET, 0, "")
    assert members(job.tag) == ["u1", "u2", "u3"]  # reset keeps the members

    rerun = crowd_tag_job_run(job_id=job.pk)
    assert (rerun.status, rerun.progress) == (Status.DONE, 3)
    assert sorted(CrowdTagDetail.objects.values_list("pk", flat=True)) == ids_before  # no duplicates
    job.tag.refresh_from_db()
    assert job.tag.statistics == 3
    assert_tag_consistent(job.tag)


def test_statistics_count_members_of_all_jobs_once():
    tag = CrowdTagFactory()
    crowd_tag_add_members(tag=tag, user_ids=["u0", "u1"])
    first = csv_job(b"u1\nu2\nu3\n", tag=tag)
    second = csv_job(b"u3\nu4\n", tag=tag)
    assert crowd_tag_job_run(job_id=first.pk).progress == 3
    assert crowd_tag_job_run(job_id=second.pk).progress == 2
    tag.refresh_from_db()
    assert tag.statistics == 5
    assert members(tag) == ["u0", "u1", "u2", "u3", "u4"]
    assert_tag_consistent(tag)


def test_progress_moves_after_every_batch(monkeypatch):
    monkeypatch.setattr(services, "CROWD_TAG_JOB_BATCH_SIZE", 2)
    job = csv_job(b"a\nb\nc\nd\ne\n")
    seen = []
    real_bitmap_add = services.bitmap_add

    def spy(tag_id, user_ids):
        row = CrowdTagJob.objects.get(pk=job.pk)
        seen.append((row.status, row.progress, list(user_ids)))
        real_bitmap_add(tag_id, user_ids)

    monkeypatch.setattr(services, "bitmap_add", spy)
    done = crowd_tag_job_run(job_id=job.pk)
    assert seen == [
        (Status.RUNNING, 0, ["a", "b"]),
        (Status.RUNNING, 2, ["c", "d"]),
        (Status.RUNNING, 4, ["e"]),
    ]
    assert (done.status, done.progress) == (Status.DONE, 5)
    assert done.tag.statistics == 5


def test_progress_counts_users_processed_not_users_new():
    tag = CrowdTagFactory()
    crowd_tag_add_members(tag=tag, user_ids=["u1", "u2"])
    done = crowd_tag_job_run(job_id=csv_job(b"u1\nu2\nu3\n", tag=tag).pk)
    assert done.progress == 3
    tag.refresh_from_db()
    assert tag.statistics == 3


def test_queries_grow_with_batches_not_with_users(django_assert_num_queries, monkeypatch):
    # claim, load; per batch: lock, count existing, insert, statistics, progress (+ savepoints); finish; reload
    small = csv_job(b"u1\nu2\n")
    with django_assert_num_queries(16):
        crowd_tag_job_run(job_id=small.pk)
    large = csv_job("\n".join(f"user{n}" for n in range(200)).encode())  # one INSERT even on SQLite (999 variables)
    with django_assert_num_queries(16):
        crowd_tag_job_run(job_id=large.pk)
    assert CrowdTag.objects.get(pk=large.tag.pk).statistics == 200
    monkeypatch.setattr(services, "CROWD_TAG_JOB_BATCH_SIZE", 10)
    batched = csv_job("\n".join(f"other{n}" for n in range(40)).encode())
    with django_assert_num_queries(16 + 3 * 7):
        crowd_tag_job_run(job_id=batched.pk)


def test_invalid_lines_fail_the_job_before_anything_is_inserted():
    job = csv_job(("u1\n" + "x" * 65 + "\nu2,u3\n").encode())
    with translation.override("en"):  # the error is stored in the language the job ran in
        failed = crowd_tag_job_run(job_id=job.pk)
    assert failed.status == Status.FAILED
    assert failed.error == (
        "2 invalid lines: line 2: user id longer than 64 characters; "
        "line 3: several values (use one user id per line, or a user_id column)"
    )
    assert failed.progress == 0
    assert not CrowdTagDetail.objects.exists()
    assert crowd_tag_job_run(job_id=job.pk) is None  # FAILED stays failed until reset


def test_a_job_without_a_readable_file_fails():
    no_file = CrowdTagJobFactory(source_file="")
    assert crowd_tag_job_run(job_id=no_file.pk).error == "a CSV import job needs a source file"
    gone = csv_job(b"u1\n")
    gone.source_file.storage.delete(gone.source_file.name)
    assert "is missing from storage" in crowd_tag_job_run(job_id=gone.pk).error


def test_trading_history_job_picks_users_with_enough_paid_orders():
    make_trading_history()
    job = CrowdTagJobFactory(trading_history=True, tag_rule="2", stat_start_time=WINDOW_START, stat_end_time=WINDOW_END)
    done = crowd_tag_job_run(job_id=job.pk)
    assert (done.status, done.progress, done.error) == (Status.DONE, 3, "")
    assert members(job.tag) == ["alice", "carol", "frank"]
    assert_tag_consistent(job.tag)
    for outsider in ["bob", "dave", "erin", "gina"]:
        assert not bitmap_contains(job.tag.tag_id, outsider)


def test_trading_history_rule_defaults_to_one_paid_order():
    make_trading_history()
    job = CrowdTagJobFactory(trading_history=True, tag_rule="", stat_start_time=WINDOW_START, stat_end_time=WINDOW_END)
    assert crowd_tag_job_run(job_id=job.pk).progress == 6


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"tag_rule": "0"}, "rule must be a positive whole number of paid orders, got '0'"),
        ({"tag_rule": "two"}, "rule must be a positive whole number of paid orders, got 'two'"),
        ({"stat_start_time": None}, "a trading-history job needs a window start and end"),
    ],
)
def test_trading_history_job_with_a_bad_setup_fails(overrides, error):
    values = {"tag_rule": "1", "stat_start_time": WINDOW_START, "stat_end_time": WINDOW_END, **overrides}
    job = CrowdTagJobFactory(trading_history=True, **values)
    failed = crowd_tag_job_run(job_id=job.pk)
    assert (failed.status, failed.error) == (Status.FAILED, error)


def test_a_redis_failure_mid_run_keeps_committed_batches_and_fails(monkeypatch):
    monkeypatch.setattr(services, "CROWD_TAG_JOB_BATCH_SIZE", 2)
    job = csv_job(b"a\nb\nc\nd\n")
    real_bitmap_add = services.bitmap_add
    calls = []

    def flaky(tag_id, user_ids):
        calls.append(user_ids)
        if len(calls) == 2:
            raise RedisConnectionError("Redis went away")
        real_bitmap_add(tag_id, user_ids)

    monkeypatch.setattr(services, "bitmap_add", flaky)
    with pytest.raises(RedisConnectionError):
        crowd_tag_job_run(job_id=job.pk)
    failed = CrowdTagJob.objects.get(pk=job.pk)
    assert (failed.status, failed.progress) == (Status.FAILED, 2)
    assert failed.error == "ConnectionError: Redis went away"
    assert members(job.tag) == ["a", "b"]  # the first batch committed; the second rolled back
    assert_tag_consistent(job.tag)

    monkeypatch.setattr(services, "bitmap_add", real_bitmap_add)
    crowd_tag_job_reset(job_id=job.pk)
    assert crowd_tag_job_run(job_id=job.pk).status == Status.DONE
    assert members(job.tag) == ["a", "b", "c", "d"]
    assert_tag_consistent(job.tag)


def test_a_transient_failure_puts_the_job_back_for_a_retry(monkeypatch):
    job = csv_job(b"a\n")

    def down(tag_id, user_ids):
        raise RedisConnectionError("Redis went away")

    monkeypatch.setattr(services, "bitmap_add", down)
    with pytest.raises(RedisConnectionError):
        crowd_tag_job_run(job_id=job.pk, retry_transient=True)
    interrupted = CrowdTagJob.objects.get(pk=job.pk)
    assert interrupted.status == Status.RESET
    assert interrupted.error == ("interrupted, can run again: ConnectionError: Redis went away")


def test_an_unexpected_error_fails_the_job_and_propagates(monkeypatch):
    job = csv_job(b"a\n")

    monkeypatch.setattr(services, "parse_user_id_csv", lambda data: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        crowd_tag_job_run(job_id=job.pk)
    failed = CrowdTagJob.objects.get(pk=job.pk)
    assert (failed.status, failed.error) == (Status.FAILED, "ZeroDivisionError: division by zero")


@pytest.mark.parametrize("status", [Status.NEW, Status.RESET, Status.DONE, Status.FAILED])
def test_reset_is_allowed_unless_running(status):
    job = csv_job(b"u1\n", status=status, progress=7, error="old")
    reset = crowd_tag_job_reset(job_id=job.pk)
    assert (reset.status, reset.progress, reset.error) == (Status.RESET, 0, "")


def test_a_running_job_cannot_be_reset_until_it_goes_stale():
    job = csv_job(b"u1\n", status=Status.RUNNING, progress=5)
    with pytest.raises(GroupBuyError) as caught:
        crowd_tag_job_reset(job_id=job.pk)
    assert caught.value.code == "0004"
    assert "is running" in caught.value.info
    assert CrowdTagJob.objects.get(pk=job.pk).status == Status.RUNNING

    silent_since = timezone.now() - services.CROWD_TAG_JOB_STALE_AFTER - timedelta(seconds=1)
    CrowdTagJob.objects.filter(pk=job.pk).update(update_time=silent_since)
    assert crowd_tag_job_reset(job_id=job.pk).status == Status.RESET


def test_reset_of_a_missing_job_is_not_found():
    with pytest.raises(GroupBuyError) as caught:
        crowd_tag_job_reset(job_id=987654)
    assert caught.value.code == "0404"


def test_a_run_reset_under_it_stops_without_touching_the_job(monkeypatch):
    monkeypatch.setattr(services, "CROWD_TAG_JOB_BATCH_SIZE", 1)
    job = csv_job(b"a\nb\nc\n")
    real_batches = services._batches

    def reset_after_first_batch(items, size):
        for n, batch in enumerate(real_batches(items, size)):
            if n == 1:  # an operator resets the (presumed stale) job between batches 1 and 2
                CrowdTagJob.objects.filter(pk=job.pk).update(status=Status.RESET, progress=0)
            yield batch

    monkeypatch.setattr(services, "_batches", reset_after_first_batch)
    assert crowd_tag_job_run(job_id=job.pk) is None
    left = CrowdTagJob.objects.get(pk=job.pk)
    assert (left.status, left.progress) == (Status.RESET, 0)
    assert members(job.tag) == ["a"]  # batch 2 rolled back with its progress update
