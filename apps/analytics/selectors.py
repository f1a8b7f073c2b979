"""The analytics figures of one activity or of all, by day: every number of the admin page and its CSV.

Seven queries whatever the range or the number of teams (pinned by apps/analytics/tests/test_selectors.py):
trials, locks, payments, refunds and teams are each one ``GROUP BY activity, day`` in SQL; time-to-fill is
one query of durations (one number per formed team of the range) whose median and p90 are computed here;
the last query names the activities. The report is cached ``REPORT_TTL_SECONDS`` per filter.

What each figure counts, and by which day (``TIME_ZONE``):

* trials: a shopper shown a price (``TrialDay``, apps/activities/trial_counts.py), by the day counted;
* locks: orders created (every lock is one), by ``create_time``;
* paid / revenue: orders paid (``out_trade_time`` set, refunded since or not) and their ``pay_price``, by
  ``out_trade_time``;
* refunds / refunded: paid orders given back (status refunded) and their ``pay_price``, by the refund's
  ``update_time`` (a refunded order is never written again);
* teams: the teams *opened* that day (``valid_start_time``), and of those how many formed with shoppers
  only, formed with virtual seats (``virtual_count`` > 0, an auto-form threshold filled them), failed, or
  are still in progress: a cohort, so the opened → formed conversion of a day never exceeds 100 %;
* time-to-fill: ``formed_at - valid_start_time`` of the formed teams opened that day; median and p90 by
  linear interpolation between closest ranks (SQL's ``PERCENTILE_CONT``; MariaDB has it, SQLite does not,
  so it is done in Python from the one query of durations: one row per formed team of the range, at most
  ``MAX_DAYS`` days).

Days are local days: the timestamps are shifted by the zone's UTC offset in SQL (a CASE over the offsets
when a DST change falls in the range) and truncated as UTC, because MariaDB's ``CONVERT_TZ`` needs time-zone
tables a server often lacks (it answers NULL). docs/decisions/016-analytics-from-the-database.md.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.db.models import (
    Aggregate,
    Case,
    Count,
    DateTimeField,
    DurationField,
    Expression,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.activities.models import Activity
from apps.analytics.models import TrialDay
from apps.common.cache import cached
from apps.common.money import quantize_money
from apps.trade.models import Order, Team

REPORT_TTL_SECONDS = 60
DEFAULT_DAYS = 14
MAX_DAYS = 366
_CACHE_VERSION = 1

FORMED = (Team.Status.COMPLETE, Team.Status.COMPLETE_WITH_REFUND)
ZERO = Decimal("0.00")


@dataclass
class Figures:
    """The figures of one day, one activity or a whole range (counts, money, time-to-fill in seconds)."""

    trials: int = 0
    locks: int = 0
    paid: int = 0
    revenue: Decimal = ZERO
    refunds: int = 0
    refunded: Decimal = ZERO
    teams_opened: int = 0
    teams_formed: int = 0  # with shoppers only
    teams_formed_virtual: int = 0  # with virtual seats (auto-form threshold)
    teams_failed: int = 0
    teams_in_progress: int = 0
    fill_median_seconds: float | None = None
    fill_p90_seconds: float | None = None

    @property
    def lock_rate(self) -> float | None:
        """trial → lock."""
        return _ratio(self.locks, self.trials)

    @property
    def pay_rate(self) -> float | None:
        """lock → paid."""
        return _ratio(self.paid, self.locks)

    @property
    def trial_pay_rate(self) -> float | None:
        """trial → paid."""
        return _ratio(self.paid, self.trials)

    @property
    def teams_formed_all(self) -> int:
        return self.teams_formed + self.teams_formed_virtual

    @property
    def form_rate(self) -> float | None:
        """opened → formed (with or without virtual seats)."""
        return _ratio(self.teams_formed_all, self.teams_opened)

    @property
    def real_form_rate(self) -> float | None:
        """opened → formed with shoppers only."""
        return _ratio(self.teams_formed, self.teams_opened)

    @property
    def net_revenue(self) -> Decimal:
        return quantize_money(self.revenue - self.refunded)

    def add(self, other: Figures) -> None:
        """Add ``other``'s counts and money (not its percentiles: they do not add up)."""
        for item in fields(self):
            if not item.name.startswith("fill_"):
                setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))


@dataclass(frozen=True)
class DayFigures:
    day: date
    figures: Figures


@dataclass(frozen=True)
class ActivityFigures:
    activity_id: int
    activity_name: str
    figures: Figures


@dataclass(frozen=True)
class Report:
    activity_id: int | None  # None: every activity
    activity_name: str | None  # None: all, or an activity id that names no activity
    start: date
    end: date
    days: list[DayFigures]  # every day of the range, oldest first, zeros included
    total: Figures
    activities: list[ActivityFigures] = field(default_factory=list)  # those with any figure, by id


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def percentile(values: list[float], fraction: float) -> float | None:
    """``PERCENTILE_CONT(fraction)``: linear interpolation between the closest ranks of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def default_range(*, today: date | None = None) -> tuple[date, date]:
    """The last ``DEFAULT_DAYS`` days, today included."""
    end = today or timezone.localdate()
    return end - timedelta(days=DEFAULT_DAYS - 1), end


def analytics_report(*, start: date, end: date, activity_id: int | None = None) -> Report:
    """The figures from ``start`` to ``end`` (local days, both included) of one activity, or of all (None).

    Cached ``REPORT_TTL_SECONDS`` per (activity, range, time zone). The caller bounds the range
    (``MAX_DAYS``; the admin's form does).
    """
    return cached(
        report_cache_key(start=start, end=end, activity_id=activity_id),
        lambda: _report(start=start, end=end, activity_id=activity_id),
        ttl=REPORT_TTL_SECONDS,
        namespace="analytics",
    )


def report_cache_key(*, start: date, end: date, activity_id: int | None) -> str:
    zone = timezone.get_current_timezone_name()
    return f"analytics:report:v{_CACHE_VERSION}:{activity_id or 'all'}:{start}:{end}:{zone}"


# --- the queries ------------------------------------------------------------------------------------------------

Bucket = tuple[int, date]  # (activity id, local day)


def _report(*, start: date, end: date, activity_id: int | None) -> Report:
    zone = timezone.get_current_timezone()
    since = timezone.make_aware(datetime.combine(start, time.min), zone)
    until = timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), zone)
    scope = Q() if activity_id is None else Q(activity_id=activity_id)
    cells: defaultdict[Bucket, Figures] = defaultdict(Figures)

    trials = TrialDay.objects.filter(scope, day__gte=start, day__lte=end).values_list("activity_id", "day", "trials")
    for activity, day, count in trials:
        cells[activity, day].trials += count

    def by_day(queryset: QuerySet[Any], column: str, **aggregates: Aggregate) -> QuerySet[Any]:
        local_day = _local_date(column, since, until, zone)
        window = {f"{column}__gte": since, f"{column}__lt": until}
        return (
            queryset.filter(scope, **window)
            .annotate(local_day=local_day)
            .values("activity_id", "local_day")
            .order_by()
            .annotate(**aggregates)
        )

    # status IN (...) lets MariaDB use the (status, create_time) and (status, out_trade_time) indexes.
    for row in by_day(Order.objects.filter(status__in=list(Order.Status)), "create_time", n=Count("id")):
        cells[row["activity_id"], row["local_day"]].locks += row["n"]
    paid = Order.objects.filter(status__in=[Order.Status.PAID, Order.Status.REFUNDED], out_trade_time__isnull=False)
    for row in by_day(paid, "out_trade_time", n=Count("id"), amount=Sum("pay_price")):
        cell = cells[row["activity_id"], row["local_day"]]
        cell.paid += row["n"]
        cell.revenue += row["amount"] or ZERO
    refunded = Order.objects.filter(status=Order.Status.REFUNDED, out_trade_time__isnull=False)
    for row in by_day(refunded, "update_time", n=Count("id"), amount=Sum("pay_price")):
        cell = cells[row["activity_id"], row["local_day"]]
        cell.refunds += row["n"]
        cell.refunded += row["amount"] or ZERO

    teams = by_day(
        Team.objects.all(),
        "valid_start_time",
        opened=Count("id"),
        formed=Count("id", filter=Q(status__in=FORMED, virtual_count=0)),
        formed_virtual=Count("id", filter=Q(status__in=FORMED, virtual_count__gt=0)),
        failed=Count("id", filter=Q(status=Team.Status.FAILED)),
        in_progress=Count("id", filter=Q(status=Team.Status.IN_PROGRESS)),
    )
    for row in teams:
        cell = cells[row["activity_id"], row["local_day"]]
        cell.teams_opened += row["opened"]
        cell.teams_formed += row["formed"]
        cell.teams_formed_virtual += row["formed_virtual"]
        cell.teams_failed += row["failed"]
        cell.teams_in_progress += row["in_progress"]

    fill = ExpressionWrapper(F("formed_at") - F("valid_start_time"), output_field=DurationField())
    durations = (
        Team.objects.filter(scope, status__in=FORMED, formed_at__isnull=False)
        .filter(valid_start_time__gte=since, valid_start_time__lt=until)
        .annotate(local_day=_local_date("valid_start_time", since, until, zone), fill=fill)
        .values_list("activity_id", "local_day", "fill")
    )
    fills: defaultdict[Bucket, list[float]] = defaultdict(list)
    for activity, day, duration in durations:
        fills[activity, day].append(duration.total_seconds())

    ids = {activity for activity, _ in cells} | {activity for activity, _ in fills}
    if activity_id is not None:
        ids.add(activity_id)
    names = dict(Activity.objects.filter(activity_id__in=ids).values_list("activity_id", "activity_name"))
    return _assemble(start, end, activity_id, names, cells, fills)


def _assemble(
    start: date,
    end: date,
    activity_id: int | None,
    names: dict[int, str],
    cells: dict[Bucket, Figures],
    fills: dict[Bucket, list[float]],
) -> Report:
    days: dict[date, Figures] = {start + timedelta(days=n): Figures() for n in range((end - start).days + 1)}
    by_activity: defaultdict[int, Figures] = defaultdict(Figures)
    total = Figures()
    for (activity, day), cell in cells.items():
        days[day].add(cell)
        by_activity[activity].add(cell)
        total.add(cell)
    day_fills: defaultdict[date, list[float]] = defaultdict(list)
    activity_fills: defaultdict[int, list[float]] = defaultdict(list)
    for (activity, day), seconds in fills.items():
        day_fills[day] += seconds
        activity_fills[activity] += seconds
    _set_fill(total, [seconds for values in fills.values() for seconds in values])
    for day, figures in days.items():
        _set_fill(figures, day_fills[day])
    for activity, figures in by_activity.items():
        _set_fill(figures, activity_fills[activity])
    for figures in (total, *days.values(), *by_activity.values()):
        figures.revenue, figures.refunded = quantize_money(figures.revenue), quantize_money(figures.refunded)
    return Report(
        activity_id=activity_id,
        activity_name=names.get(activity_id) if activity_id is not None else None,
        start=start,
        end=end,
        days=[DayFigures(day, figures) for day, figures in days.items()],
        total=total,
        activities=[
            ActivityFigures(activity, names.get(activity, str(activity)), by_activity[activity])
            for activity in sorted(by_activity)
        ],
    )


def _set_fill(figures: Figures, seconds: list[float]) -> None:
    figures.fill_median_seconds = percentile(seconds, 0.5)
    figures.fill_p90_seconds = percentile(seconds, 0.9)


# --- local days in SQL ------------------------------------------------------------------------------------------


def _local_date(column: str, since: datetime, until: datetime, zone: tzinfo) -> TruncDate:
    """The local day of ``column``: the UTC timestamp plus the zone's offset at that instant, truncated as UTC."""
    segments = utc_offsets(zone, since, until)
    shift: Expression
    if len(segments) == 1:
        shift = Value(segments[0][1], output_field=DurationField())
    else:
        shift = Case(
            *[When(**{f"{column}__lt": boundary}, then=Value(offset)) for boundary, offset in segments[:-1]],
            default=Value(segments[-1][1]),
            output_field=DurationField(),
        )
    shifted = ExpressionWrapper(F(column) + shift, output_field=DateTimeField())
    return TruncDate(shifted, tzinfo=UTC)


def utc_offsets(zone: tzinfo, since: datetime, until: datetime) -> list[tuple[datetime, timedelta]]:
    """The zone's UTC offsets over [since, until): ``(until this instant, offset)`` pieces in order, the last
    piece's instant being ``until``. One piece unless an offset change (DST) falls in the range."""

    def offset(instant: datetime) -> timedelta:
        return instant.astimezone(zone).utcoffset() or timedelta(0)

    since, until = since.astimezone(UTC), until.astimezone(UTC)  # exact arithmetic (no wall-clock steps)
    pieces: list[tuple[datetime, timedelta]] = []
    current, current_offset = since, offset(since)
    step = timedelta(days=1)
    while current < until:
        probe = min(current + step, until)
        if offset(probe) != current_offset:
            low, high = current, probe  # the change is in (low, high]: narrow it to the second
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if offset(middle) == current_offset else (low, middle)
            change = high.replace(microsecond=0)
            pieces.append((change, current_offset))
            current, current_offset = change, offset(change)
            continue
        current = probe
    pieces.append((until, current_offset))
    return pieces
