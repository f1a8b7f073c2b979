from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "apps.channels"
    label = "channels"
    verbose_name = _("Channels")

    def ready(self) -> None:
        from apps.channels import signals  # noqa: F401  (credential cache busting)
