"""Analytics' one write: add a flush of trial counts to ``TrialDay`` (apps/activities/trial_counts.py)."""

from __future__ import annotations

from datetime import date

from django.db.models import F

from apps.analytics.models import TrialDay
from apps.common.db import retry_on_deadlock


def trial_days_record(*, day: date, counts: dict[int, int]) -> None:
    """Add ``counts`` (activity id → trials) to the day's rows. Concurrent flushes of several processes add up.

    The rows are made first (an INSERT that ignores the ones that exist, on its own), then one transaction adds
    to each in activity order. That deadlocks far less than an UPDATE-else-INSERT of a missing row (MariaDB's
    gap locks: most first flushes of a day racing did); a lock conflict left runs the statement again, and if
    it keeps failing the caller keeps the counts for its next flush. The sink that
    ``trial_counts_sink_register`` is given at start.
    """
    counts = {activity_id: trials for activity_id, trials in sorted(counts.items()) if trials > 0}
    if not counts:
        return
    rows = [TrialDay(activity_id=activity_id, day=day, trials=0) for activity_id in counts]
    retry_on_deadlock(lambda: TrialDay.objects.bulk_create(rows, ignore_conflicts=True), attempts=5)
    retry_on_deadlock(lambda: _add(day, counts), attempts=5)


def _add(day: date, counts: dict[int, int]) -> None:
    for activity_id, trials in counts.items():
        TrialDay.objects.filter(activity_id=activity_id, day=day).update(trials=F("trials") + trials)
