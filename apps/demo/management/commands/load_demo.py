from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from apps.demo.services import demo_load


class Command(BaseCommand):
    help = "Load the demo data of spec/demo-data.md (idempotent). Refused under production settings."

    def handle(self, *args, **options) -> None:
        try:
            demo_load()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
