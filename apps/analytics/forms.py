from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.analytics.selectors import MAX_DAYS, default_range

# Dates whose local midnights convert to UTC and back in every zone (year 1 and 9999 overflow).
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)


class DateInput(forms.DateInput):
    input_type = "date"


class ReportRangeForm(forms.Form):
    """The report's days, both included (default: the last 14), at most ``MAX_DAYS``."""

    start = forms.DateField(label=_("From"), widget=DateInput)
    end = forms.DateField(label=_("To"), widget=DateInput)

    @classmethod
    def from_query(cls, query) -> "ReportRangeForm":
        """Bound to the query string when it names a day, else to the default range."""
        if "start" in query or "end" in query:
            return cls(query)
        start, end = default_range()
        return cls({"start": start.isoformat(), "end": end.isoformat()})

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        start: date | None = cleaned.get("start")
        end: date | None = cleaned.get("end")
        if (start and not FIRST_DAY <= start <= LAST_DAY) or (end and not FIRST_DAY <= end <= LAST_DAY):
            raise forms.ValidationError(
                _("Days from %(first)s to %(last)s only."),
                code="range_out_of_bounds",
                params={"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()},
            )
        if start and end:
            if start > end:
                raise forms.ValidationError(_("The first day comes after the last."), code="range_reversed")
            if (end - start).days + 1 > MAX_DAYS:
                raise forms.ValidationError(
                    _("At most %(days)d days at a time."), code="range_too_long", params={"days": MAX_DAYS}
                )
        return cleaned
