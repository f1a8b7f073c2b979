"""A known data set for the analytics tests: two activities over 2025-03-01..03 (Asia/Shanghai, UTC+8).

Activity A (target 3, paid 80.00 a seat):
  T0  opened 02-28 23:50 (before the range), one seat, paid 03-01 00:10, formed then
  T1  opened 03-01 10:00, locks 10:00 10:10 10:20, paid 10:10 10:20 10:30, formed 10:30 (1800 s)
  T2  opened 03-02 00:30 (03-01 16:30 UTC: another day in UTC), locks 00:30 00:35, paid 00:40 00:50,
      formed 01:30 with one virtual seat (3600 s)
  T3  opened 03-02 12:00, failed: a lock 12:00 paid 12:05 and refunded 03-03 09:00, a lock 12:01 released unpaid
  T4  opened 03-03 08:00, in progress: one lock
Activity B (target 2, paid 50.00 a seat):
  T5  opened 03-01 09:00, locks 09:00 09:02, paid 09:05 09:10, formed 09:10 (600 s)
Trials: A 02-28 100 (before the range), A 03-01 10, A 03-02 5, B 03-01 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from apps.activities.models import Activity
from apps.activities.tests.factories import ActivityFactory
from apps.analytics.models import TrialDay
from apps.trade.models import Order, Team
from apps.trade.tests.factories import OrderFactory, TeamFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
START, END = date(2025, 3, 1), date(2025, 3, 3)
COMPLETE, FAILED, IN_PROGRESS = Team.Status.COMPLETE, Team.Status.FAILED, Team.Status.IN_PROGRESS
LOCKED, PAID, REFUNDED = Order.Status.LOCKED, Order.Status.PAID, Order.Status.REFUNDED


def at(day: int, clock: str, month: int = 3) -> datetime:
    hour, minute = (int(part) for part in clock.split(":"))
    return datetime(2025, month, day, hour, minute, tzinfo=SHANGHAI)


@dataclass(frozen=True)
class KnownData:
    a: Activity
    b: Activity


def a_team(activity: Activity, opened: datetime, *, price: str, formed: datetime | None = None, **fields) -> Team:
    fields.setdefault("target_count", activity.target)
    return TeamFactory.create(
        activity=activity, valid_start_time=opened,
        valid_end_time=opened + timedelta(hours=3), formed_at=formed, pay_price=Decimal(price),
        deduction_price=Decimal("100.00") - Decimal(price), **fields,
    )  # fmt: skip


def an_order(team: Team, locked: datetime, *, paid: datetime | None = None, refunded: datetime | None = None) -> Order:
    status = REFUNDED if refunded else PAID if paid else LOCKED
    order = OrderFactory.create(
        team=team, activity=team.activity, status=status, out_trade_time=paid, pay_price=team.pay_price,
        deduction_price=team.deduction_price,
    )  # fmt: skip
    Order.objects.filter(pk=order.pk).update(create_time=locked, update_time=refunded or paid or locked)
    return order


def known_data() -> KnownData:
    a = ActivityFactory.create(activity_name="Activity A", target=3)
    b = ActivityFactory.create(activity_name="Activity B", target=2)

    t0 = a_team(a, at(28, "23:50", month=2), price="80.00", formed=at(1, "00:10"), status=COMPLETE,
                target_count=1, lock_count=1, complete_count=1)  # fmt: skip
    an_order(t0, at(28, "23:50", month=2), paid=at(1, "00:10"))

    t1 = a_team(a, at(1, "10:00"), price="80.00", formed=at(1, "10:30"), status=COMPLETE, lock_count=3,
                complete_count=3)  # fmt: skip
    for locked, paid in (("10:00", "10:10"), ("10:10", "10:20"), ("10:20", "10:30")):
        an_order(t1, at(1, locked), paid=at(1, paid))

    t2 = a_team(a, at(2, "00:30"), price="80.00", formed=at(2, "01:30"), status=COMPLETE, lock_count=2,
                complete_count=2, virtual_count=1)  # fmt: skip
    an_order(t2, at(2, "00:30"), paid=at(2, "00:40"))
    an_order(t2, at(2, "00:35"), paid=at(2, "00:50"))

    t3 = a_team(a, at(2, "12:00"), price="80.00", status=FAILED, lock_count=0, complete_count=0)
    an_order(t3, at(2, "12:00"), paid=at(2, "12:05"), refunded=at(3, "09:00"))
    an_order(t3, at(2, "12:01"), refunded=at(2, "12:20"))

    t4 = a_team(a, at(3, "08:00"), price="80.00", status=IN_PROGRESS, lock_count=1)
    an_order(t4, at(3, "08:00"))

    t5 = a_team(b, at(1, "09:00"), price="50.00", formed=at(1, "09:10"), status=COMPLETE, lock_count=2,
                complete_count=2)  # fmt: skip
    an_order(t5, at(1, "09:00"), paid=at(1, "09:05"))
    an_order(t5, at(1, "09:02"), paid=at(1, "09:10"))

    TrialDay.objects.bulk_create(
        [
            TrialDay(activity_id=a.activity_id, day=date(2025, 2, 28), trials=100),
            TrialDay(activity_id=a.activity_id, day=date(2025, 3, 1), trials=10),
            TrialDay(activity_id=a.activity_id, day=date(2025, 3, 2), trials=5),
            TrialDay(activity_id=b.activity_id, day=date(2025, 3, 1), trials=4),
        ]
    )
    return KnownData(a=a, b=b)
