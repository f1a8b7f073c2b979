from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "apps.payments"
    verbose_name = _("Mall payments")

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from apps.payments import checks  # noqa: F401 - registers the deploy check
        from apps.payments.gateways import gateways_reset

        setting_changed.connect(gateways_reset, dispatch_uid="payments_gateways_reset")
