"""The analytics selector against a known data set (tests/data.py): exact figures, days, query counts, cache."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.activities.tests.factories import ActivityFactory
from apps.analytics.selectors import (
    MAX_DAYS,
    Figures,
    analytics_report,
    default_range,
    percentile,
    utc_offsets,
)
from apps.analytics.tests.data import END, START, a_team, an_order, known_data
from apps.common.cache import cache_is_open
from apps.trade.models import Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def data():
    return known_data()


def counts(figures: Figures) -> dict:
    return {
        "trials": figures.trials, "locks": figures.locks, "paid": figures.paid, "revenue": figures.revenue,
        "refunds": figures.refunds, "refunded": figures.refunded, "opened": figures.teams_opened,
        "formed": figures.teams_formed, "virtual": figures.teams_formed_virtual, "failed": figures.teams_failed,
        "in_progress": figures.teams_in_progress, "median": figures.fill_median_seconds,
        "p90": figures.fill_p90_seconds,
    }  # fmt: skip


def test_every_activity_by_day(data):
    report = analytics_report(start=START, end=END)
    assert [day.day for day in report.days] == [date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)]
    first, second, third = (counts(day.figures) for day in report.days)
    assert first == {
        "trials": 14, "locks": 5, "paid": 6, "revenue": Decimal("420.00"), "refunds": 0, "refunded": Decimal("0.00"),
        "opened": 2, "formed": 2, "virtual": 0, "failed": 0, "in_progress": 0, "median": 1200.0, "p90": 1680.0,
    }  # fmt: skip
    assert second == {
        "trials": 5, "locks": 4, "paid": 3, "revenue": Decimal("240.00"), "refunds": 0, "refunded": Decimal("0.00"),
        "opened": 2, "formed": 0, "virtual": 1, "failed": 1, "in_progress": 0, "median": 3600.0, "p90": 3600.0,
    }  # fmt: skip
    assert third == {
        "trials": 0, "locks": 1, "paid": 0, "revenue": Decimal("0.00"), "refunds": 1, "refunded": Decimal("80.00"),
        "opened": 1, "formed": 0, "virtual": 0, "failed": 0, "in_progress": 1, "median": None, "p90": None,
    }  # fmt: skip
    assert counts(report.total) == {
        "trials": 19, "locks": 10, "paid": 9, "revenue": Decimal("660.00"), "refunds": 1, "refunded": Decimal("80.00"),
        "opened": 5, "formed": 2, "virtual": 1, "failed": 1, "in_progress": 1, "median": 1800.0, "p90": 3240.0,
    }  # fmt: skip
    assert report.activity_id is None and report.activity_name is None


def test_conversions(data):
    total = analytics_report(start=START, end=END).total
    assert total.lock_rate == pytest.approx(10 / 19)
    assert total.pay_rate == pytest.approx(9 / 10)
    assert total.trial_pay_rate == pytest.approx(9 / 19)
    assert total.form_rate == pytest.approx(3 / 5)
    assert total.real_form_rate == pytest.approx(2 / 5)
    assert total.net_revenue == Decimal("580.00")
    assert Figures().lock_rate is None and Figures().form_rate is None  # nothing to divide by: no rate


def test_by_activity(data):
    report = analytics_report(start=START, end=END)
    assert [(row.activity_id, row.activity_name) for row in report.activities] == [
        (data.a.activity_id, "Activity A"),
        (data.b.activity_id, "Activity B"),
    ]
    a, b = (counts(row.figures) for row in report.activities)
    assert a == {
        "trials": 15, "locks": 8, "paid": 7, "revenue": Decimal("560.00"), "refunds": 1, "refunded": Decimal("80.00"),
        "opened": 4, "formed": 1, "virtual": 1, "failed": 1, "in_progress": 1, "median": 2700.0, "p90": 3420.0,
    }  # fmt: skip
    assert b == {
        "trials": 4, "locks": 2, "paid": 2, "revenue": Decimal("100.00"), "refunds": 0, "refunded": Decimal("0.00"),
        "opened": 1, "formed": 1, "virtual": 0, "failed": 0, "in_progress": 0, "median": 600.0, "p90": 600.0,
    }  # fmt: skip


def test_one_activity(data):
    report = analytics_report(start=START, end=END, activity_id=data.b.activity_id)
    assert report.activity_name == "Activity B"
    assert counts(report.total) == counts(report.activities[0].figures)
    assert [day.figures.paid for day in report.days] == [2, 0, 0]
    first = analytics_report(start=START, end=START, activity_id=data.a.activity_id).days[0].figures
    assert (first.trials, first.locks, first.paid, first.revenue) == (10, 3, 4, Decimal("320.00"))


def test_an_unknown_activity_has_no_name_and_no_figures(data):
    report = analytics_report(start=START, end=END, activity_id=999_999_999)
    assert report.activity_name is None and report.total == Figures()


def test_days_are_local_days(data, settings):
    """T2 opened 03-02 00:30 in Shanghai, 03-01 in UTC: with UTC days it moves to 03-01."""
    settings.TIME_ZONE = "UTC"
    first, second, _ = analytics_report(start=START, end=END).days
    assert (first.figures.teams_opened, second.figures.teams_opened) == (3, 1)


def test_local_days_across_a_dst_change(db, settings):
    """Berlin moves from UTC+1 to UTC+2 on 2025-03-30 at 02:00: each lock counts on its own local day."""
    settings.TIME_ZONE = "Europe/Berlin"
    berlin = ZoneInfo("Europe/Berlin")
    team = a_team(ActivityFactory.create(), datetime(2025, 3, 29, 12, tzinfo=berlin), price="80.00", lock_count=3)
    for day, hour in ((29, 23), (30, 23), (31, 0)):  # 22:30Z, 21:30Z, 22:30Z (the day before in UTC)
        an_order(team, datetime(2025, 3, day, hour, 30, tzinfo=berlin))
    report = analytics_report(start=date(2025, 3, 29), end=date(2025, 3, 31))
    assert [day.figures.locks for day in report.days] == [1, 1, 1]


def test_utc_offsets_pieces():
    berlin = ZoneInfo("Europe/Berlin")
    since, until = datetime(2025, 3, 1, tzinfo=berlin), datetime(2025, 11, 1, tzinfo=berlin)
    change = datetime(2025, 3, 30, 1, tzinfo=ZoneInfo("UTC"))  # 02:00 local, UTC+1
    assert utc_offsets(berlin, since, until) == [
        (change, timedelta(hours=1)),
        (datetime(2025, 10, 26, 1, tzinfo=ZoneInfo("UTC")), timedelta(hours=2)),
        (until, timedelta(hours=1)),
    ]
    shanghai = ZoneInfo("Asia/Shanghai")
    assert utc_offsets(shanghai, datetime(2025, 1, 1, tzinfo=shanghai), datetime(2026, 1, 1, tzinfo=shanghai)) == [
        (datetime(2026, 1, 1, tzinfo=shanghai), timedelta(hours=8))
    ]


def test_percentile_is_percentile_cont():
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([10.0, 1.0, 4.0, 3.0, 2.0], 0.9) == pytest.approx(7.6)


def test_default_range_is_the_last_fourteen_days():
    assert default_range(today=date(2025, 3, 14)) == (date(2025, 3, 1), date(2025, 3, 14))
    assert MAX_DAYS >= 366


def _queries(**filters) -> int:
    cache_is_open()  # the cache switch's configuration is loaded once per process, not per report
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        analytics_report(**filters)
    return len(captured.captured_queries)


def test_a_constant_number_of_queries(data):
    """Seven queries whatever the range, the days or the teams: aggregation is in SQL."""
    assert _queries(start=START, end=END) == 7
    assert _queries(start=START - timedelta(days=300), end=END) == 7
    assert _queries(start=START, end=END, activity_id=data.a.activity_id) == 7
    for n in range(20):  # more teams on more days
        opened = datetime(2025, 3, 1 + n % 3, 9, n, tzinfo=ZoneInfo("Asia/Shanghai"))
        team = a_team(data.b, opened, price="50.00", formed=opened + timedelta(minutes=n + 1),
                      status=Team.Status.COMPLETE, lock_count=1, complete_count=1)  # fmt: skip
        an_order(team, opened, paid=opened + timedelta(minutes=n))
    assert _queries(start=START, end=END) == 7


def test_the_report_is_cached_by_filter(data):
    cache_is_open()
    cache.clear()
    report = analytics_report(start=START, end=END)
    with CaptureQueriesContext(connection) as captured:
        again = analytics_report(start=START, end=END)
    assert len(captured.captured_queries) == 0 and again == report
    with CaptureQueriesContext(connection) as captured:
        analytics_report(start=START, end=END, activity_id=data.a.activity_id)  # another filter: another entry
    assert len(captured.captured_queries) == 7
