"""The mall's money going back through its gateway: one ``RefundRecord`` per order, then the order CLOSE.

Who asks: the group-buy refund callback (``handlers.py``), a settlement refused or a payment after the
order closed (``notify.py``), a shopper's refund of an order bought alone (``orders.py``); each enqueues
the refund task after commit (``mall_order_refund_enqueue``), which calls ``mall_order_refund_money``.
Staff refunds name the operator on the record (``mall_refund_operator_record``).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.accounts.models import User
from apps.payments.enqueue import REFUND_MALL_ORDER, task_delay
from apps.payments.gateways import payment_gateway
from apps.payments.models import PayOrder, RefundRecord, pay_order_transition
from apps.payments.selectors import UNPAID_STATUSES

logger = logging.getLogger(__name__)

PAID_STATUSES = (PayOrder.Status.PAY_SUCCESS, PayOrder.Status.DEAL_DONE)


def mall_order_refund_enqueue(order_id: str, reason: str) -> None:
    """The refund task for ``order_id`` (an on-commit callback: the flag that asks for it is committed)."""
    task_delay(REFUND_MALL_ORDER, order_id, reason)


def _has_money_to_return(order: PayOrder) -> bool:
    return order.status in PAID_STATUSES or (order.status == PayOrder.Status.CLOSE and order.refund_required)


def mall_order_refund_money(*, order_id: str, reason: str, operator: User | None = None) -> RefundRecord | None:
    """Give a paid mall order's money back through its gateway and close the order.

    Idempotent: one RefundRecord per order (``out_request_no`` = ``RF`` + order id, which the gateway
    deduplicates too), a succeeded refund is never sent again. An unpaid order is just closed.
    Returns the record, or None when there was no money to return.
    """
    order = PayOrder.objects.filter(order_id=order_id).first()
    if order is None:
        return None
    if not _has_money_to_return(order):
        pay_order_transition(Q(pk=order.pk), from_=UNPAID_STATUSES, to=PayOrder.Status.CLOSE)
        return None
    record, _ = RefundRecord.objects.get_or_create(
        out_request_no=f"RF{order.order_id}",
        defaults={"pay_order": order, "amount": order.pay_amount, "reason": reason[:256], "operator": operator},
    )
    if record.status == RefundRecord.Status.SUCCESS:
        return record
    result = payment_gateway().refund(order=order, amount=record.amount, out_request_no=record.out_request_no,
                                      reason=reason)  # fmt: skip
    now = timezone.now()
    with transaction.atomic():
        RefundRecord.objects.filter(pk=record.pk).update(
            attempts=F("attempts") + 1, gateway_response=result.raw, update_time=now,
            status=RefundRecord.Status.SUCCESS if result.success else RefundRecord.Status.FAILED,
            refunded_at=now if result.success else None,
        )  # fmt: skip
        if result.success:
            pay_order_transition(Q(pk=order.pk), from_=(*PAID_STATUSES, PayOrder.Status.CLOSE),
                                 to=PayOrder.Status.CLOSE, refund_required=False, update_time=now)  # fmt: skip
    record.refresh_from_db()
    if not result.success:
        logger.error("refund %s of mall order %s failed: %s", record.out_request_no, order.order_id, result.raw)
    return record


def mall_refund_operator_record(*, order_id: str, operator: User, reason: str = "") -> RefundRecord | None:
    """Staff refunded this mall order: name them on its refund record (who gave the money back).

    The money itself moves later (``mall_order_refund_money``, after the refund message), so the record
    may not exist yet: it is created here with the operator (the refund task then finds it), or, when the
    task ran first, its missing operator is filled in. An order without money to return gets no record.
    """
    record = RefundRecord.objects.filter(out_request_no=f"RF{order_id}").first()
    if record is not None:
        if record.operator_id is None:
            RefundRecord.objects.filter(pk=record.pk, operator__isnull=True).update(operator=operator)
            record.operator = operator
        return record
    order = PayOrder.objects.filter(order_id=order_id).first()
    if order is None or not _has_money_to_return(order):
        return None
    record, created = RefundRecord.objects.get_or_create(
        out_request_no=f"RF{order_id}",
        defaults={"pay_order": order, "amount": order.pay_amount, "reason": reason[:256], "operator": operator},
    )
    if not created and record.operator_id is None:
        RefundRecord.objects.filter(pk=record.pk, operator__isnull=True).update(operator=operator)
        record.operator = operator
    return record
