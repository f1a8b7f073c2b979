from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DccConfig(AppConfig):
    name = "apps.dcc"
    verbose_name = _("Dynamic configuration")

    def ready(self) -> None:
        from apps.common.redis_state import register_rebuilder
        from apps.dcc.services import dcc_publish_all

        # The Redis hash is derived from the database: rebuilt with everything else after a wipe.
        register_rebuilder("dcc values", dcc_publish_all)
