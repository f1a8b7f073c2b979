from django.core.management.base import BaseCommand

from apps.common.redis_state import rebuild_redis_state


class Command(BaseCommand):
    help = "Rebuild everything Redis derives from the database (crowd-tag bitmaps, team stock)."

    def handle(self, *args, **options) -> None:
        for name, count in rebuild_redis_state().items():
            self.stdout.write(f"{name}: {count} rebuilt")
