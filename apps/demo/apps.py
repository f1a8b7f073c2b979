from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """The demo data and the one-process demo server (``load_demo``, ``run_embedded``).

    An app of its own because it composes every domain app; ``apps.common`` stays infrastructure only.
    """

    name = "apps.demo"
    verbose_name = _("Demo data")

    def ready(self) -> None:
        from apps.demo import checks  # noqa: F401 - registers the deploy check on demo credentials
