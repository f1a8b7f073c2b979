"""The analytics admin page on a bench-sized database: fill it with teams and orders, then time the page.

    python -m benchmarks.analytics_page fill [--teams 14000] [--days 30]   # on DATABASE_URL (migrated)
    python -m benchmarks.analytics_page measure [--days 14] [--runs 5]

``fill`` loads the demo (its activities and goods), removes what an earlier fill wrote (ids starting with
``Z``) and writes ``--teams`` teams over the last ``--days`` days across the demo's activities, with their
orders and trial counts: 60 % formed by shoppers (3 paid seats), 10 % formed with a virtual seat, 20 % failed
(one seat paid then refunded, one released unpaid), the rest in progress (one lock). ``measure`` renders
``/admin/analytics/report/`` for every activity through Django's test client as a superuser: cold (the
report's cache entry deleted) and warm, and prints the times. Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from datetime import timedelta
from decimal import Decimal

import django

PREFIX = "Z"


def fill(*, teams: int, days: int, seed: int = 17) -> None:
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from apps.activities.models import ScSkuActivity
    from apps.analytics.models import TrialDay
    from apps.trade.models import Order, Team

    call_command("load_demo", verbosity=0)
    mappings = list(ScSkuActivity.objects.select_related("activity", "sku").order_by("id"))
    rng = random.Random(seed)  # noqa: S311 - a reproducible data set, not a secret
    now = timezone.now().replace(microsecond=0)
    Order.objects.filter(order_id__startswith=PREFIX).delete()
    Team.objects.filter(team_id__startswith=PREFIX).delete()
    team_rows, order_rows, trials = [], [], {}
    for n in range(teams):
        mapping = mappings[n % len(mappings)]
        opened = now - timedelta(seconds=rng.randint(3600, days * 86400))
        original = mapping.sku.original_price
        pay = (original * Decimal("0.8")).quantize(Decimal("0.01"))
        roll = rng.random()
        status, virtual, formed = Team.Status.COMPLETE, 0, None
        seats: list[tuple[int, bool]] = []  # (order status, paid?)
        if roll < 0.6:
            seats = [(Order.Status.PAID, True)] * 3
        elif roll < 0.7:
            seats, virtual = [(Order.Status.PAID, True)] * 2, 1
        elif roll < 0.9:
            status = Team.Status.FAILED
            seats = [(Order.Status.REFUNDED, True), (Order.Status.REFUNDED, False)]
        else:
            status, opened = Team.Status.IN_PROGRESS, now - timedelta(minutes=rng.randint(1, 10))
            seats = [(Order.Status.LOCKED, False)]
        if status == Team.Status.COMPLETE:
            formed = opened + timedelta(seconds=rng.randint(30, 900))
        live = [seat for seat in seats if seat[0] != Order.Status.REFUNDED]
        team_id = f"{PREFIX}{n:07d}"
        team_rows.append(
            Team(
                team_id=team_id, activity_id=mapping.activity_id, source=mapping.source, channel=mapping.channel,
                original_price=original, deduction_price=original - pay, pay_price=pay, target_count=3,
                lock_count=len(live), complete_count=sum(paid for _, paid in live), virtual_count=virtual,
                formed_at=formed, status=status, valid_start_time=opened, valid_end_time=opened + timedelta(minutes=15),
            )
        )  # fmt: skip
        for seat, (order_status, paid) in enumerate(seats):
            locked = opened + timedelta(seconds=seat * 20)
            paid_at = locked + timedelta(seconds=rng.randint(5, 60)) if paid else None
            number = n * 3 + seat
            order_rows.append(
                Order(
                    order_id=f"{PREFIX}{number:011d}", user_id=f"bench{number}", team_id=team_id,
                    activity_id=mapping.activity_id, sku_id=mapping.sku_id, source=mapping.source,
                    channel=mapping.channel, original_price=original, deduction_price=original - pay, pay_price=pay,
                    status=order_status, out_trade_no=f"{PREFIX}OTN{number}", out_trade_time=paid_at,
                    biz_id=f"{PREFIX}_{mapping.activity_id}_{number}", create_time=locked,
                    update_time=(paid_at or locked) + timedelta(minutes=15),
                )
            )  # fmt: skip
        day = timezone.localdate(opened)
        trials[mapping.activity_id, day] = trials.get((mapping.activity_id, day), 0) + rng.randint(3, 8)
    times = [(order.create_time, order.update_time) for order in order_rows]
    with transaction.atomic():
        Team.objects.bulk_create(team_rows, batch_size=2000)
        Order.objects.bulk_create(order_rows, batch_size=2000)
        # create_time/update_time are auto fields: bulk_create stamped them now; put back the history's times
        # (bulk_update writes the attributes as they are).
        for order, (created, updated) in zip(order_rows, times, strict=True):
            order.create_time, order.update_time = created, updated
        Order.objects.bulk_update(order_rows, ["create_time", "update_time"], batch_size=1000)
        TrialDay.objects.filter(day__gte=timezone.localdate(now - timedelta(days=days + 1))).delete()
        TrialDay.objects.bulk_create(
            [TrialDay(activity_id=activity, day=day, trials=count) for (activity, day), count in trials.items()]
        )
    print(f"filled {len(team_rows)} teams, {len(order_rows)} orders, {len(trials)} trial days over {days} days")


def measure(*, days: int, runs: int) -> None:
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.analytics.selectors import analytics_report, report_cache_key
    from apps.trade.models import Team

    admin = User.objects.filter(is_superuser=True).first()
    if admin is None:
        raise SystemExit("no superuser: run `python manage.py load_demo` (it creates admin/admin)")
    client = Client()
    client.force_login(admin)
    end = timezone.localdate()
    start = end - timedelta(days=days - 1)
    url = reverse("admin:analytics_report_changelist")
    query = {"start": start.isoformat(), "end": end.isoformat()}
    cold, warm = [], []
    for _ in range(runs):
        cache.delete(report_cache_key(start=start, end=end, activity_id=None))
        began = time.perf_counter()
        response = client.get(url, query)
        cold.append(time.perf_counter() - began)
        assert response.status_code == 200, response.status_code
        began = time.perf_counter()
        assert client.get(url, query).status_code == 200
        warm.append(time.perf_counter() - began)
    report = analytics_report(start=start, end=end)  # the cached report the page showed
    print(
        f"{Team.objects.count()} teams in the database, {report.total.teams_opened} opened in the {days} days shown; "
        f"database {connection.vendor}"
    )
    print(f"cold page: median {statistics.median(cold) * 1000:.0f} ms, worst {max(cold) * 1000:.0f} ms ({runs} runs)")
    print(f"warm page: median {statistics.median(warm) * 1000:.0f} ms, worst {max(warm) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.analytics_page")
    sub = parser.add_subparsers(dest="verb", required=True)
    filling = sub.add_parser("fill")
    filling.add_argument("--teams", type=int, default=14000)
    filling.add_argument("--days", type=int, default=30)
    measuring = sub.add_parser("measure")
    measuring.add_argument("--days", type=int, default=14)
    measuring.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    django.setup()
    if args.verb == "fill":
        fill(teams=args.teams, days=args.days)
    else:
        measure(days=args.days, runs=args.runs)


if __name__ == "__main__":
    main()
