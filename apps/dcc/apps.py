from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DccConfig(AppConfig):
    name = "apps.dcc"
    verbose_name = _("Dynamic configuration")

    def ready(self) -> None:
        from apps.common.cache import cache_switch_register
        from apps.common.redis_state import register_rebuilder
        from apps.dcc.runtime import dcc_cache_open, dcc_publish_all

        # cacheOpenSwitch turns the read-through cache off: common's cache asks it (common imports no app).
        cache_switch_register(dcc_cache_open)

        # The Redis hash is derived from the database: rebuilt with everything else after a wipe.
        register_rebuilder("dcc values", dcc_publish_all)
