"""What the shop pages and the mall API show: trials for the built-in mall's channel."""

from dataclasses import dataclass

from django.conf import settings

from apps.activities.market import MarketConfig, market_config_query
from apps.activities.selectors import channel_goods_ids, sku_config
from apps.activities.trial import TrialRequest, TrialResult, trial_calculate
from apps.common.errors import GroupBuyError


@dataclass(frozen=True)
class ProductCard:
    goods_id: str
    goods_name: str
    trial: TrialResult | None
    # Why there is no group-buy price for this user right now (downgrade, cut range, ...).
    unavailable: GroupBuyError | None = None


def _user_id(user) -> str | None:
    return user.get_username() if user is not None and user.is_authenticated else None


def product_cards(*, user) -> list[ProductCard]:
    cards = []
    for goods_id in channel_goods_ids(source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL):
        request = TrialRequest(
            user_id=_user_id(user), source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL, goods_id=goods_id
        )
        try:
            trial = trial_calculate(request)
        except GroupBuyError as exc:
            sku = sku_config(goods_id=goods_id)
            cards.append(ProductCard(goods_id, sku.goods_name if sku else goods_id, None, exc))
            continue
        if trial.is_visible:
            cards.append(ProductCard(goods_id, trial.sku.goods_name, trial))
    return cards


def product_detail(*, user, goods_id: str) -> MarketConfig:
    """The trial, the teams this user sees and the statistics; raises GroupBuyError (E0002 unknown)."""
    user_id = _user_id(user)
    return market_config_query(
        user_id=user_id, source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL, goods_id=goods_id
    )
