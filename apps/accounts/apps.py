from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from apps.accounts import (
            checks,  # noqa: F401  (registers the deploy check)
            signals,  # noqa: F401  (trusted device cache busting)
        )
