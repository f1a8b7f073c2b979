"""The report's columns, once: the admin page's tables, its charts' series and the CSV export all use them.

CSV cells: counts as integers, money with two decimals, conversions as fractions with four decimals, times
to fill in seconds; an empty cell where a figure has no value (a rate of nothing, no team formed). Text
cells that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``) are prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.analytics.selectors import Figures, Report

Value = int | Decimal | float | None


@dataclass(frozen=True)
class Column:
    key: str
    label: Promise
    value: Callable[[Figures], Value]
    kind: str  # "count", "money", "rate" or "seconds": how a page and a CSV show it


COLUMNS: tuple[Column, ...] = (
    Column("trials", _("Trials"), lambda f: f.trials, "count"),
    Column("locks", _("Locks"), lambda f: f.locks, "count"),
    Column("paid", _("Paid orders"), lambda f: f.paid, "count"),
    Column("lock_rate", _("Trial → lock"), lambda f: f.lock_rate, "rate"),
    Column("pay_rate", _("Lock → paid"), lambda f: f.pay_rate, "rate"),
    Column("trial_pay_rate", _("Trial → paid"), lambda f: f.trial_pay_rate, "rate"),
    Column("revenue", _("Revenue"), lambda f: f.revenue, "money"),
    Column("refunds", _("Refunds"), lambda f: f.refunds, "count"),
    Column("refunded", _("Refunded"), lambda f: f.refunded, "money"),
    Column("net_revenue", _("Net revenue"), lambda f: f.net_revenue, "money"),
    Column("teams_opened", _("Teams opened"), lambda f: f.teams_opened, "count"),
    Column("teams_formed", _("Formed (shoppers)"), lambda f: f.teams_formed, "count"),
    Column("teams_formed_virtual", _("Formed (virtual seats)"), lambda f: f.teams_formed_virtual, "count"),
    Column("teams_failed", _("Failed"), lambda f: f.teams_failed, "count"),
    Column("teams_in_progress", _("In progress"), lambda f: f.teams_in_progress, "count"),
    Column("form_rate", _("Opened → formed"), lambda f: f.form_rate, "rate"),
    Column("fill_median_seconds", _("Time to fill, median"), lambda f: f.fill_median_seconds, "seconds"),
    Column("fill_p90_seconds", _("Time to fill, p90"), lambda f: f.fill_p90_seconds, "seconds"),
)


def csv_cell(value: Value, kind: str) -> str:
    if value is None:
        return ""
    if kind == "money":
        return f"{value:.2f}"
    if kind == "rate":
        return f"{value:.4f}"
    if kind == "seconds":
        return f"{round(value)}"
    return str(value)


def _text(value: str) -> str:
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value


def report_csv(report: Report) -> str:
    """Day rows, then the range's total, then (every activity's report) one row per activity."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    labels = (f"{c.label} (s)" if c.kind == "seconds" else str(c.label) for c in COLUMNS)
    writer.writerow([str(_("Period")), str(_("Activity id")), str(_("Activity")), *labels])
    scope = ("" if report.activity_id is None else str(report.activity_id), _text(report.activity_name or ""))
    for day in report.days:
        writer.writerow([day.day.isoformat(), *scope, *(csv_cell(c.value(day.figures), c.kind) for c in COLUMNS)])
    period = f"{report.start.isoformat()}/{report.end.isoformat()}"
    writer.writerow([period, *scope, *(csv_cell(c.value(report.total), c.kind) for c in COLUMNS)])
    if report.activity_id is None:
        for row in report.activities:
            cells = (csv_cell(c.value(row.figures), c.kind) for c in COLUMNS)
            writer.writerow([period, str(row.activity_id), _text(row.activity_name), *cells])
    return buffer.getvalue()


def chart_data(report: Report) -> dict[str, Any]:
    """The day series the page's charts draw (JSON: money and seconds as numbers, rates as percentages)."""
    data: dict[str, Any] = {"days": [day.day.isoformat() for day in report.days]}
    for column in COLUMNS:
        values = (column.value(day.figures) for day in report.days)
        if column.kind == "money":
            data[column.key] = [float(value or 0) for value in values]
        elif column.kind == "rate":
            data[column.key] = [None if value is None else round(float(value) * 100, 1) for value in values]
        elif column.kind == "seconds":
            data[column.key] = [None if value is None else round(float(value) / 60, 1) for value in values]
        else:
            data[column.key] = list(values)
    data["labels"] = {column.key: str(column.label) for column in COLUMNS}
    return data


def page_cell(value: Value, kind: str) -> str:
    """A figure as the page shows it: rates in percent, times to fill as h:mm:ss, "–" for no value."""
    if value is None:
        return "–"
    if kind == "money":
        return f"{value:.2f}"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "seconds":
        minutes, seconds = divmod(round(value), 60)
        return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"
    return str(value)


def page_cells(figures: Figures) -> list[str]:
    return [page_cell(column.value(figures), column.kind) for column in COLUMNS]
