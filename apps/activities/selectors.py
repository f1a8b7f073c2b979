"""Reads of activity configuration, cached (see apps/common/cache.py) as small frozen snapshots."""

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.staticfiles import finders
from django.templatetags.static import static

from apps.activities.models import Activity, Discount, ScSkuActivity, Sku
from apps.common.cache import cached


@dataclass(frozen=True)
class DiscountConfig:
    discount_id: str
    discount_type: int
    market_plan: str
    market_expr: str
    tag_id: str | None

    @property
    def tag_only(self) -> bool:
        return self.discount_type == Discount.DiscountType.TAG


@dataclass(frozen=True)
class ActivityConfig:
    activity_id: int
    activity_name: str
    status: int
    start_time: datetime
    end_time: datetime
    target: int
    valid_time: int
    take_limit_count: int
    group_type: int
    tag_id: str | None
    tag_scope: str
    discount: DiscountConfig
    # Growth settings (issue 17). Defaults: a snapshot cached by an older release (without them) still reads.
    expiry_reminder_minutes: int = 5
    auto_form_percent: int = 0
    leader_discount: DiscountConfig | None = None
    new_customers_only: bool = False
    max_teams_formed: int | None = None

    @property
    def is_effective(self) -> bool:
        return self.status == Activity.Status.EFFECTIVE

    def is_open_at(self, moment: datetime) -> bool:
        return self.start_time <= moment < self.end_time

    @property
    def auto_forms(self) -> bool:
        """An unfilled team forms at its deadline once its paid seats reach ``auto_form_percent`` (else it fails)."""
        return self.group_type == Activity.GroupType.AUTO_FORM

    @property
    def restricts_visibility(self) -> bool:
        return bool(self.tag_id) and "1" in self.tag_scope.split(",")

    @property
    def restricts_joining(self) -> bool:
        return bool(self.tag_id) and "2" in self.tag_scope.split(",")


@dataclass(frozen=True)
class SkuConfig:
    goods_id: str
    goods_name: str
    original_price: Decimal
    # Defaults: a snapshot cached by an older release (without these fields) still reads.
    description: str = ""
    image_url: str = ""


PLACEHOLDER_IMAGE = "img/goods/placeholder.svg"


@functools.lru_cache(maxsize=256)
def _shipped_image(goods_id: str) -> str | None:
    path = f"img/goods/{goods_id}.svg"
    return path if finders.find(path) else None


def sku_image_url(sku: Sku) -> str:
    """The uploaded image (MEDIA_URL), else the one the demo ships in static/, else a placeholder."""
    if sku.image:
        return sku.image.url
    return static(_shipped_image(sku.goods_id) or PLACEHOLDER_IMAGE)


def sku_activity_key(source: str, channel: str, goods_id: str) -> str:
    return f"sc_sku_activity:{source}:{channel}:{goods_id}"


def activity_key(activity_id: int) -> str:
    return f"activity:{activity_id}"


def sku_key(goods_id: str) -> str:
    return f"sku:{goods_id}"


def _ttl() -> int:
    return settings.ACTIVITY_CACHE_TTL_SECONDS


def _local_ttl() -> float:
    return settings.LOCAL_CACHE_TTL_SECONDS


def sku_activity_id(*, source: str, channel: str, goods_id: str) -> int | None:
    """The activity a SKU is sold under on one channel (None: not a group-buy SKU there)."""

    def load() -> int | None:
        return (
            ScSkuActivity.objects.filter(source=source, channel=channel, sku_id=goods_id)
            .values_list("activity_id", flat=True)
            .first()
        )

    return cached(
        sku_activity_key(source, channel, goods_id),
        load,
        ttl=_ttl(),
        namespace="sc_sku_activity",
        local_ttl=_local_ttl(),
    )


def _discount_config(discount: Discount) -> DiscountConfig:
    return DiscountConfig(
        discount_id=discount.discount_id,
        discount_type=discount.discount_type,
        market_plan=discount.market_plan,
        market_expr=discount.market_expr,
        tag_id=discount.tag_id,
    )


def activity_config(*, activity_id: int) -> ActivityConfig | None:
    """The activity with its discount, one query on a miss."""

    def load() -> ActivityConfig | None:
        activity = (
            Activity.objects.select_related("discount", "leader_discount").filter(activity_id=activity_id).first()
        )
        if activity is None:
            return None
        return ActivityConfig(
            activity_id=activity.activity_id,
            activity_name=activity.activity_name,
            status=activity.status,
            start_time=activity.start_time,
            end_time=activity.end_time,
            target=activity.target,
            valid_time=activity.valid_time,
            take_limit_count=activity.take_limit_count,
            group_type=activity.group_type,
            tag_id=activity.tag_id,
            tag_scope=activity.tag_scope,
            discount=_discount_config(activity.discount),
            expiry_reminder_minutes=activity.expiry_reminder_minutes,
            auto_form_percent=activity.auto_form_percent,
            leader_discount=_discount_config(activity.leader_discount) if activity.leader_discount else None,
            new_customers_only=activity.new_customers_only,
            max_teams_formed=activity.max_teams_formed,
        )

    return cached(activity_key(activity_id), load, ttl=_ttl(), namespace="activity", local_ttl=_local_ttl())


def sku_config(*, goods_id: str) -> SkuConfig | None:
    def load() -> SkuConfig | None:
        sku = Sku.objects.filter(goods_id=goods_id).first()
        if sku is None:
            return None
        return SkuConfig(
            goods_id=sku.goods_id,
            goods_name=sku.goods_name,
            original_price=sku.original_price,
            description=sku.description,
            image_url=sku_image_url(sku),
        )

    return cached(sku_key(goods_id), load, ttl=_ttl(), namespace="sku", local_ttl=_local_ttl())


def channel_goods_ids(*, source: str, channel: str) -> list[str]:
    """The SKUs mapped to a group-buy activity on one channel, for product lists."""
    # sku__goods_id reads the sku_id column (no join); django-stubs types sku_id as an int primary key.
    return list(
        ScSkuActivity.objects.filter(source=source, channel=channel)
        .order_by("sku_id")
        .values_list("sku__goods_id", flat=True)
    )
