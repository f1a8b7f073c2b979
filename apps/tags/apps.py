from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TagsConfig(AppConfig):
    name = "apps.tags"
    verbose_name = _("Crowd tags")

    def ready(self) -> None:
        import apps.tags.tasks  # noqa: F401 - queues a bitmap rebuild when a selector signals a missing one
        from apps.common.redis_state import register_rebuilder
        from apps.tags.redis_state import rebuild_all_tag_bitmaps

        register_rebuilder("crowd tag bitmaps", rebuild_all_tag_bitmaps)
