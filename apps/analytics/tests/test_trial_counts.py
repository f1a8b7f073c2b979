"""Trials are counted in memory on the hot path and written per activity and day by the flush."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from apps.activities import trial_counts
from apps.activities.trial import TrialRequest, trial_calculate
from apps.activities.trial_counts import (
    trial_counts_flush,
    trial_counts_flusher_stop,
    trial_counts_pending,
    trial_counts_reset,
)
from apps.analytics.models import TrialDay
from apps.analytics.services import trial_days_record
from apps.common.errors import GroupBuyError
from apps.trade.tests.helpers import lock_team

DAY = date(2025, 3, 1)


@pytest.fixture(autouse=True)
def _no_counts_of_other_tests():
    trial_counts_flusher_stop()  # another test's trial marked this process's flusher started (with none, at 0 s)
    trial_counts_reset()
    yield
    trial_counts_flusher_stop()
    trial_counts_reset()


def trial(offer, user_id="shopper1"):
    return trial_calculate(TrialRequest(user_id=user_id, source=offer.source, channel=offer.channel,
                                        goods_id=offer.goods_id))  # fmt: skip


def trials_of(activity_id: int) -> dict[date, int]:
    return dict(TrialDay.objects.filter(activity_id=activity_id).values_list("day", "trials"))


@pytest.mark.django_db
def test_a_trial_is_counted_in_memory_without_a_query(offer):
    trial(offer)  # warm the caches: the trial's own reads are pinned elsewhere (1 query cold)
    with CaptureQueriesContext(connection) as captured:
        trial(offer)
        trial(offer, "shopper2")
    assert len(captured.captured_queries) == 0
    assert trial_counts_pending() == {offer.activity_id: 3}
    assert trials_of(offer.activity_id) == {}  # nothing written by the trials themselves


@pytest.mark.django_db
def test_the_flush_adds_the_counts_per_activity_and_day(offer):
    for _ in range(3):
        trial(offer)
    assert trial_counts_flush(day=DAY) == 3
    assert trial_counts_pending() == {}
    trial(offer)
    assert trial_counts_flush(day=DAY) == 1
    trial(offer)
    trial_counts_flush(day=date(2025, 3, 2))
    assert trials_of(offer.activity_id) == {DAY: 4, date(2025, 3, 2): 1}
    assert trial_counts_flush(day=DAY) == 0  # nothing pending, nothing written


@pytest.mark.django_db
def test_the_lock_and_a_refused_trial_are_not_counted(offer, set_dcc):
    lock_team(offer, ("leader",))  # the lock runs the trial for its own check: not a shopper shown a price
    assert trial_counts_pending() == {}
    set_dcc("downgradeSwitch", "1")
    with pytest.raises(GroupBuyError):
        trial(offer)
    assert trial_counts_pending() == {}


@pytest.mark.django_db
def test_a_failed_flush_keeps_the_counts(offer, monkeypatch):
    trial(offer)
    trial(offer)

    def broken_sink(*, day, counts):
        raise RuntimeError("database down")

    monkeypatch.setattr(trial_counts, "_sink", broken_sink)
    assert trial_counts_flush(day=DAY) == 0
    assert trial_counts_pending() == {offer.activity_id: 2}
    monkeypatch.undo()
    trial(offer)
    assert trial_counts_flush(day=DAY) == 3
    assert trials_of(offer.activity_id) == {DAY: 3}


@pytest.mark.django_db(transaction=True)
def test_the_background_thread_flushes_every_interval(offer, settings):
    settings.TRIAL_COUNT_FLUSH_SECONDS = 0.05
    trial(offer)
    trial(offer)
    deadline = time.monotonic() + 5
    while sum(trials_of(offer.activity_id).values()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # a flush that met this read's table lock (SQLite) keeps its counts for the next one
    assert sum(trials_of(offer.activity_id).values()) == 2
    trial(offer)
    trial_counts_flusher_stop()  # a clean stop flushes what is left
    assert sum(trials_of(offer.activity_id).values()) == 3


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_processes_flushing_at_once_add_up(mariadb):
    """Several processes' first flush of a day race for the INSERT: the losers add by UPDATE instead."""

    def flush(day: date, n: int) -> None:
        try:
            trial_days_record(day=day, counts={7001: n, 7002: 1, 7003: 2})
        finally:
            connections.close_all()

    days = [DAY + timedelta(days=n) for n in range(10)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        for day in days:  # ten first-of-the-day races of sixteen processes
            list(pool.map(lambda n, day=day: flush(day, n), range(1, 17)))
    assert trials_of(7001) == dict.fromkeys(days, sum(range(1, 17)))
    assert trials_of(7002) == dict.fromkeys(days, 16)
    assert trials_of(7003) == dict.fromkeys(days, 32)
