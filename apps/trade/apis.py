"""Group-buy trade API (signed, server to server): lock an order."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import ChannelSignatureAuthentication, IsSignedChannel
from apps.common.api import success
from apps.common.serializers import IdField, MoneyField
from apps.trade.lock import LockCommand
from apps.trade.models import NotifyType
from apps.trade.services import order_lock


class NotifyConfigIn(serializers.Serializer):
    notifyType = serializers.ChoiceField(choices=NotifyType.values)
    notifyUrl = serializers.URLField(required=False, allow_blank=True, max_length=512)


class LockRequest(serializers.Serializer):
    userId = IdField()
    teamId = serializers.RegexField(r"^\d{8}$", required=False, allow_blank=True, allow_null=True)
    activityId = serializers.IntegerField(min_value=1)
    goodsId = IdField(max_length=32)
    source = IdField(max_length=16)
    channel = IdField(max_length=16)
    outTradeNo = IdField()
    notifyConfigVO = NotifyConfigIn(required=False, allow_null=True)
    notifyUrl = serializers.URLField(required=False, allow_blank=True, max_length=512)

    def validate(self, attrs: dict) -> dict:
        """Resolve the notify config: nested or flat; HTTP needs a URL; nothing given means MQ."""
        nested = attrs.get("notifyConfigVO") or {}
        url = nested.get("notifyUrl") or attrs.get("notifyUrl") or ""
        notify_type = nested.get("notifyType") or (NotifyType.HTTP if url else NotifyType.MQ)
        if notify_type == NotifyType.HTTP and not url:
            raise serializers.ValidationError({"notifyUrl": ["an HTTP callback needs notifyUrl"]})
        attrs["notify_type"] = notify_type
        attrs["notify_url"] = url if notify_type == NotifyType.HTTP else ""
        return attrs


class LockOut(serializers.Serializer):
    orderId = serializers.CharField()
    teamId = serializers.CharField()
    originalPrice = MoneyField()
    deductionPrice = MoneyField()
    payPrice = MoneyField()
    tradeOrderStatus = serializers.IntegerField()


class LockApi(APIView):
    authentication_classes = [ChannelSignatureAuthentication]
    permission_classes = [IsSignedChannel]

    @extend_schema(
        operation_id="lock_market_pay_order",
        request=LockRequest,
        responses=LockOut,
        summary="Lock a seat: open a team or join one (idempotent on outTradeNo)",
    )
    def post(self, request: Request) -> Response:
        params = LockRequest(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        result = order_lock(
            command=LockCommand(
                user_id=data["userId"],
                source=data["source"],
                channel=data["channel"],
                goods_id=data["goodsId"],
                activity_id=data["activityId"],
                out_trade_no=data["outTradeNo"],
                team_id=data.get("teamId") or None,
                notify_type=data["notify_type"],
                notify_url=data["notify_url"],
            )
        )
        return success(
            LockOut(
                {
                    "orderId": result.order_id,
                    "teamId": result.team_id,
                    "originalPrice": result.original_price,
                    "deductionPrice": result.deduction_price,
                    "payPrice": result.pay_price,
                    "tradeOrderStatus": result.status,
                }
            ).data
        )
