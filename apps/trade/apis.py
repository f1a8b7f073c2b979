"""Group-buy trade API (signed, server to server): lock, settle, refund, team progress.

Served by the lane (``apps.channels.signed_api``): each handler gets the verified call and returns the
answer's ``data``; the serializers below are the contract the OpenAPI schema documents.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.utils.translation import gettext
from rest_framework import serializers

from apps.channels.authentication import SignedCall
from apps.channels.signed_api import signed_endpoint, signed_params
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.money import format_money
from apps.common.params import Choice, FieldRule, Fields, Integer, Invalid, Text, id_text, params_validate
from apps.common.serializers import IdField, MoneyField
from apps.trade.lock import LockCommand, order_lock
from apps.trade.models import NotifyType
from apps.trade.refund import order_refund
from apps.trade.selectors import team_progress
from apps.trade.settle import SettleCommand, order_settle

TEAM_ID_PATTERN = r"^\d{8}$"
# The largest activity id every supported database stores (a signed 64-bit integer): a larger one is a 0002, never
# an overflow in the query that looks it up.
MAX_ID = 2**63 - 1


class NotifyConfigIn(serializers.Serializer):
    notifyType = serializers.ChoiceField(choices=NotifyType.values)
    notifyUrl = serializers.URLField(required=False, allow_blank=True, max_length=512)


def notify_config_resolve(attrs: dict[str, Any]) -> dict[str, Any]:
    """Resolve the notify config: nested or flat; HTTP needs a URL; nothing given means MQ.

    ``attrs`` are a lock's validated fields, completed in place with ``notify_type`` and ``notify_url``.
    """
    nested = attrs.get("notifyConfigVO") or {}
    url = nested.get("notifyUrl") or attrs.get("notifyUrl") or ""
    notify_type = nested.get("notifyType") or (NotifyType.HTTP if url else NotifyType.MQ)
    if notify_type == NotifyType.HTTP and not url:
        raise Invalid({"notifyUrl": ["an HTTP callback needs notifyUrl"]})
    attrs["notify_type"] = notify_type
    attrs["notify_url"] = url if notify_type == NotifyType.HTTP else ""
    return attrs


class LockRequest(serializers.Serializer):
    userId = IdField()
    teamId = serializers.RegexField(TEAM_ID_PATTERN, required=False, allow_blank=True, allow_null=True)
    activityId = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    goodsId = IdField(max_length=32)
    source = IdField(max_length=16)  # type: ignore[assignment]  # wire name; shadows DRF's Field.source
    channel = IdField(max_length=16)
    outTradeNo = IdField()
    notifyConfigVO = NotifyConfigIn(required=False, allow_null=True)
    notifyUrl = serializers.URLField(required=False, allow_blank=True, max_length=512)

    def validate(self, attrs: dict) -> dict:
        try:
            return notify_config_resolve(attrs)
        except Invalid as exc:
            raise serializers.ValidationError(exc.detail) from None


def _url_text() -> Text:
    """``URLField(required=False, allow_blank=True, max_length=512)``'s rule."""
    return Text(url=True, max_length=512, required=False, allow_blank=True)


LOCK_PARAMS = Fields(
    userId=id_text(),
    teamId=Text(pattern=TEAM_ID_PATTERN, required=False, allow_blank=True, allow_null=True),
    activityId=Integer(min_value=1, max_value=MAX_ID),
    goodsId=id_text(32),
    source=id_text(16),
    channel=id_text(16),
    outTradeNo=id_text(),
    notifyConfigVO=Fields(required=False, allow_null=True, notifyType=Choice(NotifyType.values), notifyUrl=_url_text()),
    notifyUrl=_url_text(),
)


def lock_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``LockRequest``'s validation without DRF (``apps.common.params``): the same values or the same 0002
    field errors, held to the serializer by ``tests/test_lock_params.py``."""
    data = params_validate(LOCK_PARAMS, params)
    try:
        return notify_config_resolve(data)
    except Invalid as exc:
        raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, data=exc.detail) from None


class LockOut(serializers.Serializer):
    orderId = serializers.CharField()
    teamId = serializers.CharField()
    originalPrice = MoneyField()
    deductionPrice = MoneyField()
    payPrice = MoneyField()
    tradeOrderStatus = serializers.IntegerField()


@signed_endpoint(
    name="lock",
    handler_records_nonce=True,  # with the seat or the opener's marker, one Redis round trip (apps/trade/lock.py)
    operation_id="lock_market_pay_order",
    request=LockRequest,
    responses=LockOut,
    summary="Lock a seat: open a team or join one (idempotent on outTradeNo)",
    description="Opening a team (no teamId) charges the leader price when the activity has a leader offer; "
    "joining charges the joiner's price (the trial's leaderPayPrice and payPrice). The answer's prices are this "
    "order's: originalPrice = deductionPrice + payPrice. Business refusals are HTTP 200 with their code, among "
    "them E0107: only new customers may join this team (the user has had a group-buy order paid on this "
    "channel, refunded or not; opening a team stays open to them).",
)
def lock(call: SignedCall) -> dict[str, Any]:
    data = signed_params(call, lock_params)
    caller = call.caller
    result = order_lock(
        nonce=call.nonce,
        command=LockCommand(
            user_id=data["userId"],
            source=caller.source,
            channel=caller.channel,
            goods_id=data["goodsId"],
            activity_id=data["activityId"],
            out_trade_no=data["outTradeNo"],
            team_id=data.get("teamId") or None,
            notify_type=data["notify_type"],
            notify_url=data["notify_url"],
        ),
    )
    # Built by hand, shaped as LockOut (a test holds them together): the serializer's field copies cost
    # more than this on every lock.
    return {
        "orderId": result.order_id,
        "teamId": result.team_id,
        "originalPrice": format_money(result.original_price),
        "deductionPrice": format_money(result.deduction_price),
        "payPrice": format_money(result.pay_price),
        "tradeOrderStatus": result.status,
    }


class TradeTimeField(serializers.DateTimeField):
    """Accepts "yyyy-MM-dd HH:mm:ss" (the reference's format, local time) or ISO-8601."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(input_formats=["%Y-%m-%d %H:%M:%S", "iso-8601"], **kwargs)

    def enforce_timezone(self, value: datetime) -> datetime:
        # DRF guards astimezone, not its check of make_aware's answer: a naive time at the calendar's edge
        # ("0001-01-01 00:00:00" in Asia/Shanghai) raised OverflowError, a 500. It is out of range: a 0002.
        try:
            return super().enforce_timezone(value)
        except OverflowError:
            self.fail("overflow")


class SettleRequest(serializers.Serializer):
    userId = IdField()
    source = IdField(max_length=16)  # type: ignore[assignment]  # wire name; shadows DRF's Field.source
    channel = IdField(max_length=16)
    outTradeNo = IdField()
    outTradeTime = TradeTimeField()


SETTLE_PARAMS = Fields(
    userId=id_text(),
    source=id_text(16),
    channel=id_text(16),
    outTradeNo=id_text(),
    outTradeTime=FieldRule(TradeTimeField()),  # the field itself, one instance for every request (see FieldRule)
)


def settle_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``SettleRequest``'s validation without its serializer (``apps.common.params``): the same values or the same
    0002 field errors, held to the serializer by ``tests/test_settle_params.py``."""
    return params_validate(SETTLE_PARAMS, params)


class SettleOut(serializers.Serializer):
    userId = serializers.CharField()
    teamId = serializers.CharField()
    activityId = serializers.IntegerField()
    outTradeNo = serializers.CharField()


@signed_endpoint(
    name="settle",
    operation_id="settlement_market_pay_order",
    request=SettleRequest,
    responses=SettleOut,
    summary="Record a payment; the last seat paid completes the team (idempotent)",
)
def settle(call: SignedCall) -> dict[str, Any]:
    data = signed_params(call, settle_params)
    caller = call.caller
    result = order_settle(
        command=SettleCommand(
            user_id=data["userId"],
            source=caller.source,
            channel=caller.channel,
            out_trade_no=data["outTradeNo"],
            out_trade_time=data["outTradeTime"],
        )
    )
    # Built by hand, shaped as SettleOut (a test holds them together), as the lock's answer.
    return {
        "userId": result.user_id,
        "teamId": result.team_id,
        "activityId": result.activity_id,
        "outTradeNo": result.out_trade_no,
    }


class TeamProgressParams(serializers.Serializer):
    teamId = serializers.RegexField(TEAM_ID_PATTERN)
    source = IdField(max_length=16)  # type: ignore[assignment]  # wire name; shadows DRF's Field.source
    channel = IdField(max_length=16)


TEAM_PROGRESS_PARAMS = Fields(teamId=Text(pattern=TEAM_ID_PATTERN), source=id_text(16), channel=id_text(16))


def team_progress_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``TeamProgressParams``'s validation without its serializer, held to it by
    ``tests/test_refund_progress_params.py``."""
    return params_validate(TEAM_PROGRESS_PARAMS, params)


class TeamProgressOut(serializers.Serializer):
    teamId = serializers.CharField()
    status = serializers.IntegerField()
    targetCount = serializers.IntegerField()
    lockCount = serializers.IntegerField()
    completeCount = serializers.IntegerField()
    virtualCount = serializers.IntegerField(
        help_text="Seats filled by the platform when an auto-form team formed at its deadline below its target "
        "(the activity's auto-form threshold): no shopper's, never in a callback's outTradeNoList. 0 otherwise."
    )
    validEndTime = serializers.DateTimeField()


# TeamProgressOut's validEndTime, shared: to_representation only reads the field (time zone: the current one).
_WIRE_TIME = serializers.DateTimeField()


@signed_endpoint(
    name="team_progress",
    method="GET",
    operation_id="team_progress",
    parameters=[TeamProgressParams],
    responses=TeamProgressOut,
    summary="A team's seats and status (the calling channel's teams only)",
)
def team_progress_get(call: SignedCall) -> dict[str, Any]:
    data = signed_params(call, team_progress_params)
    caller = call.caller
    team = team_progress(team_id=data["teamId"], source=caller.source, channel=caller.channel)
    if team is None:
        raise GroupBuyError(
            ResponseCode.ILLEGAL_PARAMETER, gettext("no such team"), data={"teamId": [gettext("no such team")]}
        )
    # Built by hand, shaped as TeamProgressOut (a test holds them together); the time written by the field itself.
    return {
        "teamId": team.team_id,
        "status": team.status,
        "targetCount": team.target_count,
        "lockCount": team.lock_count,
        "completeCount": team.complete_count,
        "virtualCount": team.virtual_count,
        "validEndTime": _WIRE_TIME.to_representation(team.valid_end_time),
    }


class RefundRequest(serializers.Serializer):
    userId = IdField()
    source = IdField(max_length=16)  # type: ignore[assignment]  # wire name; shadows DRF's Field.source
    channel = IdField(max_length=16)
    outTradeNo = IdField()


REFUND_PARAMS = Fields(userId=id_text(), source=id_text(16), channel=id_text(16), outTradeNo=id_text())


def refund_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``RefundRequest``'s validation without its serializer, held to it by
    ``tests/test_refund_progress_params.py``."""
    return params_validate(REFUND_PARAMS, params)


class RefundOut(serializers.Serializer):
    userId = serializers.CharField()
    orderId = serializers.CharField()
    teamId = serializers.CharField()
    code = serializers.ChoiceField(choices=["success", "repeat"])
    info = serializers.CharField()


@signed_endpoint(
    name="refund",
    operation_id="refund_market_pay_order",
    request=RefundRequest,
    responses=RefundOut,
    summary="Give the seat (and the money, when paid) back; a refunded order answers repeat",
)
def refund(call: SignedCall) -> dict[str, Any]:
    data = signed_params(call, refund_params)
    caller = call.caller
    outcome = order_refund(
        source=caller.source, channel=caller.channel, out_trade_no=data["outTradeNo"], user_id=data["userId"]
    )
    # Built by hand, shaped as RefundOut (a test holds them together).
    return {
        "userId": outcome.order.user_id,
        "orderId": outcome.order.order_id,
        "teamId": outcome.team.team_id,
        "code": "repeat" if outcome.repeat else "success",
        "info": "already refunded" if outcome.repeat else outcome.strategy,
    }
