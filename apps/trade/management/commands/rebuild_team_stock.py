from django.core.management.base import BaseCommand

from apps.trade.redis_state import rebuild_team_stock


class Command(BaseCommand):
    help = "Recompute the Redis team stock (seat counters and markers) of every in-progress team from the database."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"team stock rebuilt for {rebuild_team_stock()} team(s)")
