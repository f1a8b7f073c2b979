"""Mall API for mobile clients (token auth): products with this user's group-buy price."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.activities.apis import GoodsOut, MarketConfigOut
from apps.common.api import success
from apps.common.money import format_money
from apps.storefront.selectors import product_cards, product_detail


class MallProductOut(serializers.Serializer):
    goods = GoodsOut()
    activityId = serializers.IntegerField(allow_null=True)
    targetCount = serializers.IntegerField(allow_null=True)
    isEnable = serializers.BooleanField()
    unavailableCode = serializers.CharField(allow_null=True)
    unavailableInfo = serializers.CharField(allow_null=True)


class MallProductListApi(APIView):
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
                    },
                    "activityId": trial.activity_id if trial else None,
                    "targetCount": trial.activity.target if trial else None,
                    "isEnable": bool(trial and trial.is_enable),
                    "unavailableCode": card.unavailable.code if card.unavailable else None,
                    "unavailableInfo": card.unavailable.info if card.unavailable else None,
                }
            )
        return success(products)


class MallProductDetailApi(APIView):
    @extend_schema(operation_id="mall_product", responses=MarketConfigOut, summary="My price and the open teams")
    def get(self, request: Request, goods_id: str) -> Response:
        config = product_detail(user=request.user, goods_id=goods_id)
        return success(config.as_wire())
