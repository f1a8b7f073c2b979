"""The product page's answers as APIs: the signed index API (a partner mall's server asks for one goods'
price and open teams) and the mall API for mobile clients (token auth: products with this user's price).

Both compose the trial (activities) with team reads (trade), so they live above both.
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.channels.authentication import SignedCall
from apps.channels.signed_api import signed_endpoint, signed_params
from apps.common.api import success
from apps.common.db_routing import replica_reads
from apps.common.money import format_money
from apps.common.params import Fields, Text, id_text, params_validate
from apps.common.serializers import IdField, MoneyField
from apps.dcc.ratelimit import rate_limit_check
from apps.storefront.market import market_config_query
from apps.storefront.selectors import product_cards, product_detail
from apps.trade.apis import TEAM_ID_PATTERN
from apps.trade.own_teams import holds_no_open_team, mirror_in_use, own_teams_peek_keys


class MarketConfigRequest(serializers.Serializer):
    userId = IdField()  # wire names are camelCase, as in the reference contract
    source = IdField(max_length=16)  # type: ignore[assignment]  # wire name; shadows DRF's Field.source
    channel = IdField(max_length=16)
    goodsId = IdField(max_length=32)
    teamId = serializers.RegexField(
        TEAM_ID_PATTERN,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="Optional: the team the user means to join. Then isEnable answers whether they may join it "
        "(reason E0107: only new customers may join); without it, whether they may open a team.",
    )


MARKET_CONFIG_PARAMS = Fields(
    userId=id_text(),
    source=id_text(16),
    channel=id_text(16),
    goodsId=id_text(32),
    teamId=Text(pattern=TEAM_ID_PATTERN, required=False, allow_blank=True, allow_null=True),
)


def market_config_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``MarketConfigRequest``'s validation without DRF (``apps.common.params``): the same values or the same
    0002 field errors, held to the serializer by ``tests/test_market_params.py``."""
    return params_validate(MARKET_CONFIG_PARAMS, params)


class GoodsOut(serializers.Serializer):
    goodsId = serializers.CharField()
    goodsName = serializers.CharField()
    originalPrice = MoneyField()
    deductionPrice = MoneyField()
    payPrice = MoneyField()
    leaderPayPrice = MoneyField(
        allow_null=True,
        help_text="What whoever opens a team pays with the activity's leader offer (the leader plan applied to "
        "payPrice); null when there is no leader offer for this user. payPrice stays the joiner's price.",
    )
    leaderDeductionPrice = MoneyField(
        allow_null=True, help_text="originalPrice - leaderPayPrice; null when leaderPayPrice is null."
    )


class ReasonOut(serializers.Serializer):
    code = serializers.CharField(help_text="E0007 (crowd tag) or E0107 (only new customers may join).")
    info = serializers.CharField()


class TeamOut(serializers.Serializer):
    userId = serializers.CharField()
    teamId = serializers.CharField()
    activityId = serializers.IntegerField()
    targetCount = serializers.IntegerField()
    completeCount = serializers.IntegerField()
    lockCount = serializers.IntegerField()
    validStartTime = serializers.DateTimeField()
    validEndTime = serializers.DateTimeField()
    validTimeCountdown = serializers.CharField()
    outTradeNo = serializers.CharField(allow_null=True)


class TeamStatisticOut(serializers.Serializer):
    allTeamCount = serializers.IntegerField()
    allTeamCompleteCount = serializers.IntegerField()
    allTeamUserCount = serializers.IntegerField()


class MarketConfigOut(serializers.Serializer):
    activityId = serializers.IntegerField()
    goods = GoodsOut()
    isVisible = serializers.BooleanField()
    isEnable = serializers.BooleanField(
        help_text="May the user take part: open a team, or with teamId in the request, join that team."
    )
    joinEnable = serializers.BooleanField(
        help_text="May the user join someone else's team (false for a customer who paid before, on an activity "
        "whose joiners must be new customers; reason says why)."
    )
    reason = ReasonOut(
        allow_null=True, help_text="Why isVisible, isEnable or joinEnable is false (the lock's code); else null."
    )
    soldOut = serializers.BooleanField(
        help_text="Every team the activity may form (its team limit) has formed: no team can be opened or joined."
    )
    teamsLeft = serializers.IntegerField(
        allow_null=True,
        help_text="New teams that may still open under the activity's team limit (0: only joining an open team, "
        "E0108 for a new one); null: no limit.",
    )
    teamList = TeamOut(many=True)
    teamStatistic = TeamStatisticOut()


@signed_endpoint(
    name="trial",
    operation_id="query_group_buy_market_config",
    request=MarketConfigRequest,
    responses=MarketConfigOut,
    summary="Trial for the product page: price, visibility, open teams, statistics (signed, rate limited)",
    handler_records_nonce=True,  # with the user's permit, one Redis round trip (apps/dcc/ratelimit.py)
    description="payPrice/deductionPrice are a joiner's prices; leaderPayPrice/leaderDeductionPrice what whoever "
    "opens a team pays with the activity's leader offer (null without one). isEnable: may the user open a team, "
    "or, with teamId, join that team; joinEnable: may they join someone else's team; reason: why not (E0007 "
    "crowd tag, E0107 only new customers may join), else null.",
)
def market_config(call: SignedCall) -> dict[str, Any]:
    data = signed_params(call, market_config_params)
    caller = call.caller
    scope = {"source": caller.source, "channel": caller.channel, "user_id": data["userId"]}
    # A userId is the channel's own namespace: one mall's traffic never rate-limits another's shopper. The same
    # round trip asks the own-teams mirror whether this user can hold an open team (apps/trade/own_teams.py).
    peeked = rate_limit_check(
        user_id=f"{caller.source}/{caller.channel}/{data['userId']}", nonce=call.nonce,
        peek=own_teams_peek_keys(**scope) if mirror_in_use() else (),
    )  # fmt: skip
    config = market_config_query(
        user_id=data["userId"], source=caller.source, channel=caller.channel, goods_id=data["goodsId"],
        team_id=data.get("teamId") or None, holds_no_open_team=holds_no_open_team(peeked),
    )  # fmt: skip
    return config.as_wire()


class MallProductOut(serializers.Serializer):
    goods = GoodsOut()
    activityId = serializers.IntegerField(allow_null=True)
    targetCount = serializers.IntegerField(allow_null=True)
    isEnable = serializers.BooleanField()
    soldOut = serializers.BooleanField(help_text="Every team the activity may form has formed (its team limit).")
    unavailableCode = serializers.CharField(allow_null=True)
    unavailableInfo = serializers.CharField(allow_null=True)


def _money_or_none(value: Decimal | None) -> str | None:
    return None if value is None else format_money(value)


class MallProductListApi(APIView):
    @replica_reads()  # lag-tolerant, as the shop pages (apps/storefront/views.py)
    @extend_schema(operation_id="mall_products", responses=MallProductOut(many=True), summary="Products and my price")
    def get(self, request: Request) -> Response:
        products = []
        for card in product_cards(user=request.user):
            trial = card.trial
            products.append(
                {
                    "goods": {
                        "goodsId": card.goods_id,
                        "goodsName": card.goods_name,
                        "originalPrice": format_money(trial.original_price) if trial else None,
                        "deductionPrice": format_money(trial.deduction_price) if trial else None,
                        "payPrice": format_money(trial.pay_price) if trial else None,
                        "leaderPayPrice": _money_or_none(trial.leader_pay_price if trial else None),
                        "leaderDeductionPrice": _money_or_none(trial.leader_deduction_price if trial else None),
                    },
                    "activityId": trial.activity_id if trial else None,
                    "targetCount": trial.activity.target if trial else None,
                    "isEnable": bool(trial and trial.is_enable),
                    "soldOut": card.sold_out,
                    "unavailableCode": card.unavailable.code if card.unavailable else None,
                    "unavailableInfo": card.unavailable.info if card.unavailable else None,
                }
            )
        return success(MallProductOut(products, many=True).data)


class MallProductDetailApi(APIView):
    @replica_reads()
    @extend_schema(operation_id="mall_product", responses=MarketConfigOut, summary="My price and the open teams")
    def get(self, request: Request, goods_id: str) -> Response:
        config = product_detail(user=request.user, goods_id=goods_id)
        return success(config.as_wire())
