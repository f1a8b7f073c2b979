"""Group-buy index API (signed, server to server): the product page's trial."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.authentication import SignedChannelApi
from apps.activities.market import market_config_query
from apps.common.api import success
from apps.common.serializers import IdField, MoneyField
from apps.dcc.ratelimit import rate_limit_check


class MarketConfigRequest(serializers.Serializer):
    userId = IdField()  # wire names are camelCase, as in the reference contract
    source = IdField(max_length=16)
    channel = IdField(max_length=16)
    goodsId = IdField(max_length=32)


class GoodsOut(serializers.Serializer):
    goodsId = serializers.CharField()
    goodsName = serializers.CharField()
    originalPrice = MoneyField()
    deductionPrice = MoneyField()
    payPrice = MoneyField()


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
    isEnable = serializers.BooleanField()
    teamList = TeamOut(many=True)
    teamStatistic = TeamStatisticOut()


class MarketConfigApi(SignedChannelApi):
    @extend_schema(
        operation_id="query_group_buy_market_config",
        request=MarketConfigRequest,
        responses=MarketConfigOut,
        summary="Trial for the product page: price, visibility, open teams, statistics (signed, rate limited)",
    )
    def post(self, request: Request) -> Response:
        data = self.signed_params(request, MarketConfigRequest)
        caller = request.user
        # A userId is the channel's own namespace: one mall's traffic never rate-limits another's shopper.
        rate_limit_check(user_id=f"{caller.source}/{caller.channel}/{data['userId']}")
        config = market_config_query(
            user_id=data["userId"], source=caller.source, channel=caller.channel, goods_id=data["goodsId"]
        )
        return success(config.as_wire())
