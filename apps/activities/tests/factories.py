from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from apps.activities.models import Activity, Discount, ScSkuActivity, Sku


class SkuFactory(factory.django.DjangoModelFactory[Sku]):
    class Meta:
        model = Sku

    goods_id = factory.Sequence(lambda n: f"{7000000 + n}")
    source = "s01"
    channel = "c01"
    goods_name = factory.Sequence(lambda n: f"goods {n}")
    original_price = Decimal("100.00")


class DiscountFactory(factory.django.DjangoModelFactory[Discount]):
    class Meta:
        model = Discount

    discount_id = factory.Sequence(lambda n: f"D{n:07d}")
    discount_name = "fixed 20 off"
    market_plan = Discount.MarketPlan.ZJ
    market_expr = "20"


class ActivityFactory(factory.django.DjangoModelFactory[Activity]):
    class Meta:
        model = Activity

    activity_id = factory.Sequence(lambda n: 500000 + n)
    activity_name = factory.Sequence(lambda n: f"activity {n}")
    discount = factory.SubFactory(DiscountFactory)
    status = Activity.Status.EFFECTIVE
    target = 3
    valid_time = 15
    take_limit_count = 1
    start_time = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    end_time = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))


class ScSkuActivityFactory(factory.django.DjangoModelFactory[ScSkuActivity]):
    class Meta:
        model = ScSkuActivity

    source = "s01"
    channel = "c01"
    sku = factory.SubFactory(SkuFactory)
    activity = factory.SubFactory(ActivityFactory)
