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

        from apps.common.mq import TEAM_REFUND, TEAM_SUCCESS
        from apps.notifications.consumers import register_handler
        from apps.payments.handlers import mall_on_team_refund, mall_on_team_success

        register_handler(name="mall.team_success", routing_key=TEAM_SUCCESS, handle=mall_on_team_success)
        register_handler(name="mall.team_refund", routing_key=TEAM_REFUND, handle=mall_on_team_refund)
