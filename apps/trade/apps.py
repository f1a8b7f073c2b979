from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TradeConfig(AppConfig):
    name = "apps.trade"
    verbose_name = _("Teams and orders")
