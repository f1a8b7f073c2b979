"""What the shop pages and the mall API show: trials for the built-in mall's channel.

The goods page adds what the shopper may still do: their takes left under the activity's take
limit (used up: "open a team" and "join" give way to the reason), and "buy alone at full price",
the mall's normal order without group buy.
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from apps.accounts.models import User
from apps.activities.selectors import channel_goods_ids, sku_config
from apps.activities.trial import Intent, TrialRequest, TrialResult, trial_calculate
from apps.common.errors import GroupBuyError
from apps.payments.selectors import mall_takes_left
from apps.storefront.market import MarketConfig, activity_quota, market_config_query
from apps.trade.selectors import TeamView


@dataclass(frozen=True)
class ProductCard:
    goods_id: str
    goods_name: str
    trial: TrialResult | None
    # Why there is no group-buy price for this user right now (downgrade, cut range, ...).
    unavailable: GroupBuyError | None = None
    image_url: str = ""
    sold_out: bool = False  # every team its activity may form has formed (Activity.max_teams_formed)


def _user_id(user: User | AnonymousUser | None) -> str | None:
    return user.get_username() if user is not None and user.is_authenticated else None


def product_cards(*, user: User | AnonymousUser | None) -> list[ProductCard]:
    cards = []
    for goods_id in channel_goods_ids(source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL):
        request = TrialRequest(
            user_id=_user_id(user), source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL, goods_id=goods_id,
            intent=Intent.OPEN,  # a card shows prices and whether one may take part, not who may join a team
        )  # fmt: skip
        try:
            trial = trial_calculate(request)
        except GroupBuyError as exc:
            sku = sku_config(goods_id=goods_id)
            cards.append(
                ProductCard(goods_id, sku.goods_name if sku else goods_id, None, exc, sku.image_url if sku else "")
            )
            continue
        if trial.is_visible:
            quota = activity_quota(trial)
            cards.append(
                ProductCard(goods_id, trial.sku.goods_name, trial, image_url=trial.sku.image_url,
                            sold_out=quota is not None and quota.sold_out)
            )  # fmt: skip
    return cards


def product_detail(*, user: User | AnonymousUser | None, goods_id: str) -> MarketConfig:
    """The trial, the teams this user sees and the statistics; raises GroupBuyError (E0002 unknown)."""
    user_id = _user_id(user)
    return market_config_query(
        user_id=user_id, source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL, goods_id=goods_id
    )


@dataclass(frozen=True)
class ProductPage:
    config: MarketConfig
    takes_left: int | None  # None: an anonymous visitor

    @property
    def take_limit_used_up(self) -> bool:
        return self.takes_left == 0

    @property
    def own_team(self) -> TeamView | None:
        return next((team for team in self.config.teams if team.mine), None)

    @property
    def others_teams(self) -> list:
        return [team for team in self.config.teams if not team.mine]


def product_page(*, user: User | AnonymousUser | None, goods_id: str) -> ProductPage:
    """``product_detail`` plus the shopper's takes left; raises as ``product_detail`` does."""
    config = product_detail(user=user, goods_id=goods_id)
    activity = config.trial.activity
    takes_left = mall_takes_left(
        user=user, activity_id=activity.activity_id, take_limit_count=activity.take_limit_count
    )
    return ProductPage(config=config, takes_left=takes_left)
