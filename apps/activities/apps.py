from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ActivitiesConfig(AppConfig):
    name = "apps.activities"
    verbose_name = _("Group-buy activities")

    def ready(self) -> None:
        from apps.activities import signals  # noqa: F401  (cache invalidation on edits)
