"""Mall API for mobile clients (token auth, envelope) and the payment gateway's notify endpoint.

Answers are written by their documented serializers (times in the project's time zone, as the signed
API writes them: ``apps.common.serializers``), never hand-formatted.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import NotFound
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import User
from apps.common.api import success
from apps.common.money import format_money
from apps.common.serializers import IdField, MoneyField
from apps.payments.handlers import group_buy_callback_handle
from apps.payments.models import PayOrder
from apps.payments.notify import payment_notify_handle
from apps.payments.orders import mall_order_auto_join, mall_order_create, mall_order_refund_request
from apps.payments.selectors import mall_order_of, mall_order_pay_deadline, mall_orders_of, team_share

logger = logging.getLogger(__name__)


class MallApi(APIView):
    """The mall's token API: every view serves a logged-in shopper (``shopper``)."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    @staticmethod
    def shopper(request: Request) -> User:
        """The logged-in shopper (IsAuthenticated lets nobody else in)."""
        assert isinstance(request.user, User)
        return request.user


class OrderCreateIn(serializers.Serializer):
    goodsId = IdField(max_length=32)
    teamId = serializers.RegexField(r"^\d{8}$", required=False, allow_blank=True, allow_null=True)
    autoJoin = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Without teamId: join the team of this goods closest to full (most seats taken, then the earliest "
        "deadline; never one you are in), trying the next when it fills meanwhile; with none left, open a new "
        "team. With teamId: 0002.",
    )

    def validate(self, attrs: dict) -> dict:
        if attrs.get("autoJoin") and attrs.get("teamId"):
            raise serializers.ValidationError({"autoJoin": [gettext("give either teamId or autoJoin, not both")]})
        return attrs


class OrderCreatedOut(serializers.Serializer):
    orderId = serializers.CharField()
    payUrl = serializers.CharField(allow_null=True, help_text="null once the order no longer waits for payment")
    payAmount = MoneyField()
    teamId = serializers.CharField()
    status = serializers.CharField()
    autoJoined = serializers.BooleanField(
        help_text="autoJoin only: true when the order took a seat in an existing team, false when it opened a new "
        "one (no team had a seat left). Always false without autoJoin."
    )


class OrderOut(serializers.Serializer):
    orderId = serializers.CharField()
    goodsId = serializers.CharField()
    goodsName = serializers.CharField()
    status = serializers.CharField()
    statusText = serializers.CharField()
    totalAmount = MoneyField()
    deductionAmount = MoneyField()
    payAmount = MoneyField()
    teamId = serializers.CharField()
    orderTime = serializers.DateTimeField()
    payDeadline = serializers.DateTimeField(allow_null=True)
    payTime = serializers.DateTimeField(allow_null=True)
    payUrl = serializers.CharField(allow_null=True)
    refundRequired = serializers.BooleanField()


class OrderPageOut(serializers.Serializer):
    count = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    results = OrderOut(many=True)


class MemberOut(serializers.Serializer):
    userId = serializers.CharField()
    leader = serializers.BooleanField()
    paid = serializers.BooleanField()
    mine = serializers.BooleanField()


class TeamDetailOut(serializers.Serializer):
    teamId = serializers.CharField()
    activityId = serializers.IntegerField()
    goodsId = serializers.CharField()
    goodsName = serializers.CharField()
    originalPrice = MoneyField()
    payPrice = MoneyField()
    status = serializers.IntegerField()
    targetCount = serializers.IntegerField()
    lockCount = serializers.IntegerField()
    completeCount = serializers.IntegerField()
    virtualCount = serializers.IntegerField(
        help_text="Seats the platform filled when the team formed at its deadline under the activity's auto-form "
        "threshold: no shopper's, not in members. 0 otherwise."
    )
    seatsLeft = serializers.IntegerField()
    validStartTime = serializers.DateTimeField()
    validEndTime = serializers.DateTimeField()
    validTimeCountdown = serializers.CharField()
    members = MemberOut(many=True)
    mine = serializers.BooleanField()
    canJoin = serializers.BooleanField()


def _pay_url(request: Request, order: PayOrder) -> str | None:
    """The link this caller opens to pay: shown to the client only, so the origin it reached us on
    (its Host header) is fine here. Server-to-server URLs come from configuration (apps.common.site.public_base_url)."""
    return request.build_absolute_uri(order.pay_url) if order.pay_url else None


def order_wire(request: Request, order: PayOrder) -> dict:
    """One order as ``OrderOut`` writes it (money as "80.00", times in the project's time zone)."""
    return OrderOut(_order_fields(request, order)).data


def _order_fields(request: Request, order: PayOrder) -> dict:
    waiting = order.status == PayOrder.Status.PAY_WAIT
    return {
        "orderId": order.order_id,
        "goodsId": order.product_id,
        "goodsName": order.product_name,
        "status": order.status,
        "statusText": str(order.get_status_display()),
        "totalAmount": format_money(order.total_amount),
        "deductionAmount": format_money(order.market_deduction_amount),
        "payAmount": format_money(order.pay_amount),
        "teamId": order.team_id,
        "orderTime": order.order_time,
        "payDeadline": mall_order_pay_deadline(order=order) if waiting else None,
        "payTime": order.pay_time,
        "payUrl": _pay_url(request, order) if waiting else None,
        "refundRequired": order.refund_required,
    }


class MallOrdersApi(MallApi):
    @extend_schema(
        operation_id="mall_order_create",
        request=OrderCreateIn,
        responses=OrderCreatedOut,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Retries with the same key return the same order (at most 64 characters).",
            )
        ],
        summary="Order at the group-buy price: open a team, join teamId, or (autoJoin) the team closest to full; "
        "answers the pay URL",
    )
    def post(self, request: Request) -> Response:
        params = OrderCreateIn(data=request.data)
        params.is_valid(raise_exception=True)
        auto_joined = False
        if params.validated_data["autoJoin"]:
            outcome = mall_order_auto_join(
                user=self.shopper(request),
                goods_id=params.validated_data["goodsId"],
                idempotency_key=request.headers.get("Idempotency-Key"),
            )
            order, auto_joined = outcome.order, outcome.joined
        else:
            order = mall_order_create(
                user=self.shopper(request),
                goods_id=params.validated_data["goodsId"],
                team_id=params.validated_data.get("teamId") or None,
                idempotency_key=request.headers.get("Idempotency-Key"),
            )
        return success(
            OrderCreatedOut(
                {
                    "orderId": order.order_id,
                    "payUrl": _pay_url(request, order) if order.status == PayOrder.Status.PAY_WAIT else None,
                    "payAmount": format_money(order.pay_amount),
                    "teamId": order.team_id,
                    "status": order.status,
                    "autoJoined": auto_joined,
                }
            ).data
        )

    @extend_schema(
        operation_id="mall_orders",
        responses=OrderPageOut,
        parameters=[
            OpenApiParameter("limit", OpenApiTypes.INT, description="page size (default 20, at most 100)"),
            OpenApiParameter("offset", OpenApiTypes.INT, description="rows to skip"),
        ],
        summary="My orders, newest first",
    )
    def get(self, request: Request) -> Response:
        paginator = LimitOffsetPagination()
        paginator.default_limit, paginator.max_limit = 20, 100
        page = paginator.paginate_queryset(mall_orders_of(user=self.shopper(request)), request, view=self)
        assert page is not None  # None only without a limit, and default_limit is set
        return success(
            OrderPageOut(
                {
                    "count": paginator.count,
                    "limit": paginator.limit,
                    "offset": paginator.offset,
                    "results": [_order_fields(request, order) for order in page],
                }
            ).data
        )


class MallOrderDetailApi(MallApi):
    @extend_schema(operation_id="mall_order", responses=OrderOut, summary="One of my orders")
    def get(self, request: Request, order_id: str) -> Response:
        order = mall_order_of(user=self.shopper(request), order_id=order_id)
        if order is None:
            raise NotFound("no such order")
        return success(order_wire(request, order))


class MallTeamApi(MallApi):
    @extend_schema(operation_id="mall_team", responses=TeamDetailOut, summary="A team's progress, members masked")
    def get(self, request: Request, team_id: str) -> Response:
        share = team_share(team_id=team_id, user=request.user)
        if share is None:
            raise NotFound("no such team")
        team = share.team
        return success(
            TeamDetailOut(
                {
                    "teamId": team.team_id,
                    "activityId": team.activity_id,
                    "goodsId": share.goods_id,
                    "goodsName": share.goods_name,
                    "originalPrice": format_money(share.original_price),
                    "payPrice": format_money(share.pay_price),
                    "status": team.status,
                    "targetCount": team.target_count,
                    "lockCount": team.lock_count,
                    "completeCount": team.complete_count,
                    "virtualCount": team.virtual_count,
                    "seatsLeft": share.seats_left,
                    "validStartTime": team.valid_start_time,
                    "validEndTime": team.valid_end_time,
                    "validTimeCountdown": share.countdown,
                    "members": [
                        {"userId": m.masked_user_id, "leader": m.leader, "paid": m.paid, "mine": m.mine}
                        for m in share.members
                    ],
                    "mine": share.viewer_in_team,
                    "canJoin": share.can_join,
                }
            ).data
        )


@csrf_exempt
@require_POST
def alipay_notify(request: HttpRequest) -> HttpResponse:
    """The gateway's asynchronous notify (Alipay protocol): form fields in, plain ``success``/``fail``
    out — never the JSON envelope. Unexpected errors stay 500 (logged); the gateway retries."""
    accepted = payment_notify_handle(params=request.POST.dict())
    return HttpResponse("success" if accepted else "fail", content_type="text/plain; charset=utf-8")


class RefundOutWire(serializers.Serializer):
    orderId = serializers.CharField()
    code = serializers.ChoiceField(choices=["success", "repeat"])
    strategy = serializers.CharField(allow_blank=True)


class MallOrderRefundApi(MallApi):
    @extend_schema(
        operation_id="mall_order_refund", request=None, responses=RefundOutWire,
        summary="Give my seat back; a paid order's money is returned through the gateway",
    )  # fmt: skip
    def post(self, request: Request, order_id: str) -> Response:
        outcome = mall_order_refund_request(user=self.shopper(request), order_id=order_id)
        return success(
            RefundOutWire(
                {"orderId": order_id, "code": "repeat" if outcome.repeat else "success", "strategy": outcome.strategy}
            ).data
        )


@csrf_exempt
@require_POST
def group_buy_notify(request: HttpRequest) -> HttpResponse:
    """The built-in mall's HTTP receiver of our team callbacks (signed; applied once per X-GBM-Task)."""
    accepted = group_buy_callback_handle(
        task_uuid=request.headers.get("X-GBM-Task", ""),
        timestamp=request.headers.get("X-GBM-Timestamp", ""),
        signature=request.headers.get("X-GBM-Signature", ""),
        body=request.body,
    )
    return HttpResponse("success" if accepted else "fail", content_type="text/plain; charset=utf-8",
                        status=200 if accepted else 401)  # fmt: skip
