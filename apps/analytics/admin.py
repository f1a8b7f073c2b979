"""The analytics page in admin: every activity's figures, or one activity's, by day, with charts and CSV.

``/admin/analytics/report/`` (all activities; the admin index links it) and
``/admin/analytics/report/activity/<activity id>/`` (linked from each activity's change page), both with
``?start=&end=`` (default: the last 14 days) and ``&export=csv``. Staff with ``analytics.view_report`` only;
the admin's login for anyone else. The figures come from ``apps.analytics.selectors.analytics_report``.
"""

from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.analytics.exports import COLUMNS, chart_data, page_cells, report_csv
from apps.analytics.forms import ReportRangeForm
from apps.analytics.models import Report
from apps.analytics.selectors import REPORT_TTL_SECONDS, analytics_report
from apps.common.db_routing import replica_reads

MAX_ACTIVITY_ID = 2**63 - 1  # Activity.activity_id is a PositiveBigIntegerField
CHART_TITLES = {
    "funnel": _("Trials, locks and paid orders by day"),
    "conversion": _("Conversion by day (percent)"),
    "teams": _("Teams by day"),
    "money": _("Revenue and refunds by day"),
    "fill": _("Time to fill by day (minutes)"),
}


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [  # no change or add views: the model has no table
            path("", wrap(self.changelist_view), name="analytics_report_changelist"),
            path("activity/<int:activity_id>/", wrap(self.activity_view), name="analytics_report_activity"),
        ]

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        return self._report_view(request, activity_id=None)

    def activity_view(self, request: HttpRequest, activity_id: int) -> HttpResponse:
        if activity_id > MAX_ACTIVITY_ID:  # past the column (and SQLite's integers): no such activity, not a 500
            raise Http404(gettext("No activity %(id)s.") % {"id": activity_id})
        return self._report_view(request, activity_id=activity_id)

    def _report_view(self, request: HttpRequest, *, activity_id: int | None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = ReportRangeForm.from_query(request.GET)
        report = None
        if form.is_valid():
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
            # Figures up to a minute old anyway (cached): a replica's seconds of lag are fine. Decorated rather than a
            # with-block, so a replica that fails mid-read is bypassed and the report read again on the primary.
            report = replica_reads()(analytics_report)(start=start, end=end, activity_id=activity_id)
            if activity_id is not None and report.activity_name is None:
                raise Http404(gettext("No activity %(id)s.") % {"id": activity_id})
        if request.GET.get("export") == "csv":
            if report is None:
                errors = " ".join(str(error) for errors in form.errors.values() for error in errors)
                return HttpResponseBadRequest(errors, content_type="text/plain; charset=utf-8")
            name = f"analytics-{activity_id or 'all'}-{report.start.isoformat()}-{report.end.isoformat()}.csv"
            return HttpResponse(
                "\ufeff" + report_csv(report),  # a BOM: spreadsheets then read the UTF-8 (Chinese names) as such
                content_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return TemplateResponse(request, "admin/analytics/report.html", self._context(request, form, report))

    def _context(self, request: HttpRequest, form: ReportRangeForm, report) -> dict:
        title = str(_("Group-buy analytics"))
        if report is not None and report.activity_id is not None:
            title = gettext("Analytics of %(activity)s") % {"activity": report.activity_name}
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "report": report,
            "columns": COLUMNS,
            "ttl": REPORT_TTL_SECONDS,
            "all_url": reverse("admin:analytics_report_changelist"),
        }
        if report is None:
            return context
        span = {"start": report.start.isoformat(), "end": report.end.isoformat()}
        return {
            **context,
            "query": urlencode(span),
            "csv_query": urlencode({**span, "export": "csv"}),
            "total": page_cells(report.total),
            "days": [(day.day, page_cells(day.figures)) for day in report.days],
            "activities": [
                (row.activity_id, row.activity_name, self._activity_url(row.activity_id, span), page_cells(row.figures))
                for row in report.activities
            ],
            "chart": {**chart_data(report), "titles": CHART_TITLES},
            "activity_change_url": self._activity_change_url(report.activity_id),
        }

    @staticmethod
    def _activity_url(activity_id: int, span: dict[str, str]) -> str:
        return f"{reverse('admin:analytics_report_activity', args=[activity_id])}?{urlencode(span)}"

    @staticmethod
    def _activity_change_url(activity_id: int | None) -> str:
        if activity_id is None:
            return ""
        # Activity's admin URL takes its primary key; the figures name the business id: the search finds it.
        return f"{reverse('admin:activities_activity_changelist')}?{urlencode({'q': activity_id})}"
