from django.core.management.base import BaseCommand

from apps.dcc.runtime import dcc_publish_all


class Command(BaseCommand):
    help = "Copy every DCC value from the database into Redis and broadcast it to all processes."

    def handle(self, *args, **options) -> None:
        count = dcc_publish_all()
        self.stdout.write(f"dcc: {count} values mirrored into Redis and broadcast")
