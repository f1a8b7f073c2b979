from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        # The delivery and bus counters exist (at 0) from the first scrape.
        import apps.notifications.consumers
        import apps.notifications.services
        import apps.notifications.tasks  # noqa: F401 - enqueues a task's delivery when its commit signals it
