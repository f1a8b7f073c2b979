from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DccConfig(AppConfig):
    name = "apps.dcc"
    verbose_name = _("Dynamic configuration")
