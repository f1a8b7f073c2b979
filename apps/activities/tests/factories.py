from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone

from apps.activities.models import Activity, Discount, ScSkuActivity, Sku
from apps.channels.models import ChannelCredential
from apps.channels.tests.factories import ChannelCredentialFactory
from apps.tags.models import CrowdTag


class SkuFactory(factory.django.DjangoModelFactory[Sku]):
    class Meta:
        model = Sku

    goods_id = factory.Sequence(lambda n: f"{7000000 + n}")
    source = "s01"
    channel = "c01"
    goods_name = factory.Sequence(lambda n: f"拼团好书 {n}")  # not ASCII: names travel through signed forms and pages
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


@dataclass(frozen=True)
class Offer:
    """One goods sold as a group buy in one signed channel: what a trial, a lock and a settlement need."""

    sku: Sku
    activity: Activity
    credential: ChannelCredential

    @property
    def goods_id(self) -> str:
        return self.sku.goods_id

    @property
    def activity_id(self) -> int:
        return self.activity.activity_id

    @property
    def source(self) -> str:
        return self.credential.source

    @property
    def channel(self) -> str:
        return self.credential.channel

    @property
    def secret(self) -> str:
        return self.credential.secret

    @property
    def in_channel(self) -> dict[str, str]:
        """``source`` and ``channel`` as keyword arguments of the services and selectors."""
        return {"source": self.source, "channel": self.channel}


def an_offer(
    *,
    target: int = 3,
    price: str = "100.00",
    plan: str = Discount.MarketPlan.ZJ,
    expr: str = "20",
    credential: ChannelCredential | None = None,
    members_only: CrowdTag | None = None,
    **activity: Any,
) -> Offer:
    """A SKU at ``price``, an effective activity of ``target`` seats with a ``plan``/``expr`` discount, mapped
    in a channel whose credential signs (a new channel unless ``credential`` is given) and may call back to
    this machine. ``members_only``: the activity's crowd tag, restricting visibility and joining. Other
    keywords are Activity fields (``valid_time``, ``take_limit_count``, ``group_type``, ``status``...)."""
    if credential is None:
        credential = ChannelCredentialFactory.create(notify_hosts="127.0.0.1\nlocalhost", notify_private_allowed=True)
    if members_only is not None:
        activity.setdefault("tag", members_only)
        activity.setdefault("tag_scope", Activity.TagScope.BOTH)
    sku = SkuFactory.create(source=credential.source, channel=credential.channel, original_price=Decimal(price))
    made = ActivityFactory.create(
        target=target, discount__market_plan=plan, discount__market_expr=expr, discount__discount_name=f"{plan} {expr}",
        **activity,
    )  # fmt: skip
    ScSkuActivityFactory.create(source=credential.source, channel=credential.channel, sku=sku, activity=made)
    return Offer(sku=sku, activity=made, credential=credential)
