"""The gateway's payment notify, and the bridge from a paid mall order to the group-buy settlement.

``payment_notify_handle`` checks the notify (signature, app id, order, amount) and hands a payment to
``mall_order_paid``: PAY_WAIT → PAY_SUCCESS once, then ``order_settle`` in the same transaction (an order
bought alone goes on to DEAL_DONE). A refused settlement keeps the money flagged for refund (``refunds.py``).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from prometheus_client import Counter

from apps.common.db import retry_on_deadlock
from apps.common.errors import GroupBuyError, ResponseCode
from apps.payments.gateways import payment_gateway
from apps.payments.gateways.base import GATEWAY_TIME_FORMAT, GATEWAY_TZ
from apps.payments.models import PayOrder, pay_order_transition
from apps.payments.orders import TRANSIENT_CODES
from apps.payments.refunds import mall_order_refund_enqueue
from apps.trade.services import order_settle
from apps.trade.settle import SettleCommand

logger = logging.getLogger(__name__)

PAYMENT_NOTIFIES = Counter("gbm_payment_notifies_total", "Gateway payment notifies by outcome", ["outcome"])

PAID_TRADE_STATUSES = frozenset({"TRADE_SUCCESS", "TRADE_FINISHED"})
_AMOUNT = re.compile(r"^\d{1,8}(\.\d{1,2})?$")


def payment_notify_handle(*, params: dict[str, str]) -> bool:
    """The gateway's asynchronous notify; True → answer ``success``, False → ``fail``.

    Checked in order, each failure logged and changing nothing: RSA2 signature by the active
    gateway, app id, a known order, the amount equal to the order's pay amount (exact Decimal).
    A paying trade status marks the order paid and settles it (idempotent: a replayed notify
    answers ``success`` again); other statuses are acknowledged without change.
    """
    gateway = payment_gateway()
    ref = f"out_trade_no={params.get('out_trade_no', '')!r} notify_id={params.get('notify_id', '')!r}"

    def reject(outcome: str) -> bool:
        PAYMENT_NOTIFIES.labels(outcome).inc()
        logger.warning("payment notify rejected (%s): %s trade_no=%r", outcome, ref, params.get("trade_no", ""))
        return False

    if not gateway.verify_notify(params):
        return reject("bad_signature")
    if params.get("app_id") != gateway.app_id:
        return reject("wrong_app_id")
    order = PayOrder.objects.filter(order_id=params.get("out_trade_no", "")).first()
    if order is None:
        return reject("unknown_order")
    amount = params.get("total_amount", "")
    if not _AMOUNT.match(amount) or Decimal(amount) != order.pay_amount:
        return reject("amount_mismatch")
    trade_status = params.get("trade_status", "")
    if trade_status not in PAID_TRADE_STATUSES:
        PAYMENT_NOTIFIES.labels("ignored").inc()
        logger.info("payment notify %s with trade_status %s: nothing to do", ref, trade_status)
        return True
    trade_no = params.get("trade_no", "")
    if not trade_no:
        return reject("no_trade_no")
    try:
        mall_order_paid(
            order_id=order.order_id,
            trade_no=trade_no,
            paid_amount=Decimal(amount),
            paid_at=_gateway_time(params.get("gmt_payment", "")),
        )
    except GroupBuyError as exc:
        return reject(f"not_applied_{exc.code}")
    PAYMENT_NOTIFIES.labels("applied").inc()
    return True


def _gateway_time(text: str) -> datetime:
    try:
        return datetime.strptime(text, GATEWAY_TIME_FORMAT).replace(tzinfo=GATEWAY_TZ)
    except ValueError:
        return timezone.now()


def mall_order_paid(*, order_id: str, trade_no: str, paid_amount: Decimal, paid_at: datetime) -> PayOrder:
    """The gateway took ``paid_amount`` for ``order_id``: PAY_WAIT → PAY_SUCCESS once, then settle.

    One transaction: the conditional UPDATE and ``order_settle``. A settlement refusal (E0106 paid
    after the team's end, E0104 team no longer in progress, E0105 blacklisted) keeps the payment:
    the order stays PAY_SUCCESS with ``refund_required`` and ``market_code`` (the refund work
    returns the money). A deadlock with a teammate's payment settling at the same moment runs the
    transaction again at once (``retry_on_deadlock``; it rolled back whole, so nothing is applied
    twice); another transient failure (0004, 0007, a deadlock again) rolls the whole thing back and
    raises, so the notify answers ``fail`` and the gateway retries, minutes later.

    Again for a paid order: nothing changes (a second, different trade_no is logged: a double
    payment to refund). For an order closed unpaid (not paid in time, or its seat given back):
    flagged ``refund_required`` once. A closed order that already has a trade_no was flagged or
    refunded before: a re-delivered notify (gateways repeat them for days) changes nothing.
    """
    return retry_on_deadlock(lambda: _paid(order_id, trade_no=trade_no, paid_amount=paid_amount, paid_at=paid_at))


def _paid(order_id: str, *, trade_no: str, paid_amount: Decimal, paid_at: datetime) -> PayOrder:
    """``mall_order_paid``'s transaction (``retry_on_deadlock`` opens it)."""
    marked = pay_order_transition(
        Q(order_id=order_id, pay_amount=paid_amount),
        from_={PayOrder.Status.PAY_WAIT},
        to=PayOrder.Status.PAY_SUCCESS,
        trade_no=trade_no,
        pay_time=paid_at,
    )
    order = PayOrder.objects.select_related("user").get(order_id=order_id)
    if not marked:
        return _paid_again(order, trade_no=trade_no, paid_amount=paid_amount, paid_at=paid_at)
    if order.market_type == PayOrder.MarketType.GROUP_BUY:
        _settle(order, paid_at)
    else:  # bought alone: nothing to wait for
        pay_order_transition(Q(pk=order.pk), from_={PayOrder.Status.PAY_SUCCESS}, to=PayOrder.Status.DEAL_DONE)
        order.status = PayOrder.Status.DEAL_DONE
    logger.info("mall order %s paid (trade %s)", order_id, trade_no)
    return order


def _settle(order: PayOrder, paid_at: datetime) -> None:
    command = SettleCommand(
        user_id=order.user.get_username(),
        source=settings.MALL_SOURCE,
        channel=settings.MALL_CHANNEL,
        out_trade_no=order.order_id,
        out_trade_time=paid_at,
    )
    try:
        order_settle(command=command)
    except GroupBuyError as exc:
        if exc.code in TRANSIENT_CODES:
            raise
        PayOrder.objects.filter(pk=order.pk).update(refund_required=True, market_code=exc.code)
        order.refund_required, order.market_code = True, exc.code
        refused = f"settlement refused {exc.code}"
        transaction.on_commit(lambda: mall_order_refund_enqueue(order.order_id, refused))
        logger.error(
            "mall order %s paid but settlement refused %s (%s): flagged for refund", order.order_id, exc.code, exc.info
        )


def _paid_again(order: PayOrder, *, trade_no: str, paid_amount: Decimal, paid_at: datetime) -> PayOrder:
    if order.pay_amount != paid_amount:
        raise GroupBuyError(
            ResponseCode.ILLEGAL_PARAMETER, gettext("the paid amount differs from the order's pay amount")
        )
    if order.status in (PayOrder.Status.PAY_SUCCESS, PayOrder.Status.DEAL_DONE):
        if order.trade_no and order.trade_no != trade_no:
            logger.error(
                "mall order %s paid twice: trade %s after %s; refund it", order.order_id, trade_no, order.trade_no
            )
        return order
    if order.status == PayOrder.Status.CLOSE:
        if order.trade_no:
            # This payment is known: flagged, or its refund finished (the refund leaves the order CLOSE
            # with its trade_no). A re-delivered notify must not flag it again.
            if order.trade_no != trade_no:
                logger.error(
                    "mall order %s paid twice: trade %s after %s (closed); refund it by hand",
                    order.order_id, trade_no, order.trade_no,
                )  # fmt: skip
            return order
        flagged = PayOrder.objects.filter(
            pk=order.pk, status=PayOrder.Status.CLOSE, refund_required=False, trade_no=""
        ).update(refund_required=True, trade_no=trade_no, pay_time=paid_at, update_time=timezone.now())
        if flagged:
            transaction.on_commit(lambda: mall_order_refund_enqueue(order.order_id, "paid after the order closed"))
            logger.error(
                "mall order %s paid after it was closed (trade %s): flagged for refund", order.order_id, trade_no
            )
            order.refresh_from_db()
        return order
    raise GroupBuyError(
        ResponseCode.UPDATE_ZERO, gettext("the order is not waiting for payment yet")
    )  # CREATE: retry later
