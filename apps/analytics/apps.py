from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "apps.analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from apps.activities.trial_counts import trial_counts_sink_register
        from apps.analytics.services import trial_days_record

        trial_counts_sink_register(trial_days_record)  # activities counts trials, analytics stores them
