"""Prepare the bench database: migrate, load the demo data, add the race offer, rebuild Redis state (one start-up).

Run by the harness as ``python -m benchmarks.fixtures`` with the bench's environment
(``BenchEnvironment.django_environ``); idempotent, like the commands it calls. The race offer
(``benchmarks.scenarios.RACE_*``) is the demo's first offer with teams of 100 seats, for the race suite
(``benchmarks/race.py``); it exists in the bench database only.
"""

from datetime import timedelta
from decimal import Decimal

import django
from django.core.management import call_command

from benchmarks.scenarios import DEMO_CHANNEL, DEMO_SOURCE, RACE_ACTIVITY, RACE_GOODS, RACE_TARGET


def race_offer_load() -> None:
    from django.db import transaction
    from django.utils import timezone

    from apps.activities.models import Activity, Discount, ScSkuActivity, Sku

    now = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        sku, _ = Sku.objects.update_or_create(
            goods_id=RACE_GOODS,
            defaults={
                "goods_name": "bench race",
                "original_price": Decimal("100.00"),
                "source": DEMO_SOURCE,
                "channel": DEMO_CHANNEL,
            },
        )
        discount, _ = Discount.objects.update_or_create(
            discount_id="bench-race",
            defaults={
                "discount_name": "ZJ 20",
                "discount_type": Discount.DiscountType.BASE,
                "market_plan": "ZJ",
                "market_expr": "20",
            },
        )
        activity, _ = Activity.objects.update_or_create(
            activity_id=RACE_ACTIVITY,
            defaults={
                "activity_name": "bench race",
                "discount": discount,
                "status": Activity.Status.EFFECTIVE,
                "target": RACE_TARGET,
                "valid_time": 15,
                "take_limit_count": 1,
                "group_type": Activity.GroupType.TARGET_REQUIRED,
                "start_time": now - timedelta(days=1),
                "end_time": now + timedelta(days=365),
            },
        )
        ScSkuActivity.objects.update_or_create(
            source=DEMO_SOURCE, channel=DEMO_CHANNEL, sku=sku, defaults={"activity": activity}
        )


def trade_history_clear() -> None:
    """Every run starts from the same state: no teams, orders or callbacks of earlier runs (the trial's shared
    team list and counts read every open team of an activity, so a few thousand left over from the last run
    made the next trial slower), and an empty bench Redis database, rebuilt from the database below."""
    from django.apps import apps
    from django.db import connection

    from apps.common.redis import get_redis

    tables = ["notifications.NotifyTask", "payments.RefundRecord", "payments.PayOrder", "trade.Order", "trade.Team"]
    with connection.cursor() as cursor:
        for label in tables:
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(apps.get_model(label)._meta.db_table)}")  # noqa: S608
    get_redis().flushdb()  # the bench's own Redis database (BENCH_REDIS_URL, loopback only)


def main() -> None:
    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    trade_history_clear()
    call_command("load_demo", verbosity=0)
    race_offer_load()
    call_command("rebuild_redis", verbosity=0)


if __name__ == "__main__":
    main()
