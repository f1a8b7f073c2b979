"""Analytics' own rows: trials per activity and day (the one figure the trading tables do not hold).

Every other figure of the report is read from the trading tables (apps/analytics/selectors.py). ``Report``
has no table: it is the admin's entry for the analytics page and carries its permission (view only).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TrialDay(models.Model):
    """How many trials (a shopper shown a price) an activity had on a day (``TIME_ZONE``).

    Written a few seconds after the trials, by the flush of ``apps/activities/trial_counts.py``. A plain
    activity id, not a foreign key: a count is history, and an activity deleted meanwhile must not fail it.
    """

    activity_id = models.PositiveBigIntegerField(_("activity id"))
    day = models.DateField(_("day"))
    trials = models.PositiveBigIntegerField(_("trials"), default=0)

    class Meta:
        db_table = "analytics_trial_day"
        verbose_name = _("trials of a day")
        verbose_name_plural = _("trials by day")
        constraints = [models.UniqueConstraint(fields=["activity_id", "day"], name="uniq_trial_day_activity_day")]
        indexes = [models.Index(fields=["day"], name="idx_trial_day_day")]

    def __str__(self) -> str:
        return f"{self.activity_id} {self.day}: {self.trials}"


class Report(models.Model):
    """The analytics page in admin (no table): staff see it with ``analytics.view_report``."""

    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = _("group-buy analytics")
        verbose_name_plural = _("group-buy analytics")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)
