"""Reads of activity configuration."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from apps.activities.discounts import discount_strategies
from apps.activities.models import Discount, ScSkuActivity


@dataclass(frozen=True)
class ChannelProduct:
    goods_id: str
    goods_name: str
    original_price: Decimal
    group_price: Decimal
    activity_id: int
    target: int

    @property
    def saving(self) -> Decimal:
        return self.original_price - self.group_price


def channel_mappings(*, source: str, channel: str) -> QuerySet[ScSkuActivity]:
    return (
        ScSkuActivity.objects.filter(source=source, channel=channel)
        .select_related("sku", "activity__discount")
        .order_by("sku__goods_id")
    )


def channel_products(*, source: str, channel: str) -> list[ChannelProduct]:
    """Products of one channel with the price everyone gets (tag-only discounts show the original)."""
    products = []
    for mapping in channel_mappings(source=source, channel=channel):
        sku, activity = mapping.sku, mapping.activity
        discount = activity.discount
        strategy = discount_strategies.get(discount.market_plan)
        if strategy is None or discount.discount_type == Discount.DiscountType.TAG:
            group_price = sku.original_price
        else:
            group_price = strategy.pay_price(sku.original_price, discount.market_expr)
        products.append(
            ChannelProduct(
                goods_id=sku.goods_id,
                goods_name=sku.goods_name,
                original_price=sku.original_price,
                group_price=group_price,
                activity_id=activity.activity_id,
                target=activity.target,
            )
        )
    return products
