"""Analytics' one write: add a flush of trial counts to ``TrialDay`` (apps/activities/trial_counts.py)."""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import F

from apps.analytics.models import TrialDay


def trial_days_record(*, day: date, counts: dict[int, int]) -> None:
    """Add ``counts`` (activity id → trials) to the day's rows: one UPDATE per activity, an INSERT for the first
    flush of a day. Concurrent flushes of several processes add up: the INSERT that loses the unique key's
    race updates instead. The sink ``trial_counts_sink_register`` is given at start."""
    with transaction.atomic():
        for activity_id, trials in sorted(counts.items()):  # one order for every process: no deadlock
            if trials <= 0:
                continue
            if TrialDay.objects.filter(activity_id=activity_id, day=day).update(trials=F("trials") + trials):
                continue
            try:
                with transaction.atomic():
                    TrialDay.objects.create(activity_id=activity_id, day=day, trials=trials)
            except IntegrityError:
                TrialDay.objects.filter(activity_id=activity_id, day=day).update(trials=F("trials") + trials)
