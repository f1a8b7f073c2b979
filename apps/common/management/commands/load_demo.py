from django.core.management.base import BaseCommand

from apps.common.demo import demo_load


class Command(BaseCommand):
    help = "Load the demo data of spec/demo-data.md (idempotent)."

    def handle(self, *args, **options) -> None:
        demo_load()
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
