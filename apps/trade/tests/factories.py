from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from apps.activities.tests.factories import ActivityFactory, SkuFactory
from apps.trade.models import Order, Team


class TeamFactory(factory.django.DjangoModelFactory[Team]):
    class Meta:
        model = Team

    team_id = factory.Sequence(lambda n: f"{10000000 + n}")
    activity = factory.SubFactory(ActivityFactory)
    source = "s01"
    channel = "c01"
    original_price = Decimal("100.00")
    deduction_price = Decimal("20.00")
    pay_price = Decimal("80.00")
    target_count = 3
    lock_count = 1
    complete_count = 0
    valid_start_time = factory.LazyFunction(timezone.now)
    valid_end_time = factory.LazyAttribute(lambda team: team.valid_start_time + timedelta(minutes=15))
    notify_url = "http://127.0.0.1:9/notify"


class OrderFactory(factory.django.DjangoModelFactory[Order]):
    class Meta:
        model = Order

    order_id = factory.Sequence(lambda n: f"{100000000000 + n}")
    user_id = factory.Sequence(lambda n: f"shopper{n}")
    team = factory.SubFactory(TeamFactory)
    activity = factory.SelfAttribute("team.activity")
    sku = factory.SubFactory(SkuFactory)
    source = "s01"
    channel = "c01"
    original_price = Decimal("100.00")
    deduction_price = Decimal("20.00")
    pay_price = Decimal("80.00")
    out_trade_no = factory.Sequence(lambda n: f"OTN{n:09d}")
    biz_id = factory.LazyAttribute(lambda order: f"{order.activity.activity_id}_{order.user_id}_1")
