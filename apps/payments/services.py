"""Writes of the built-in mall (pay_order): create an order with a locked seat, record its payment
and settle it, close unpaid orders, accept the gateway's notify.

The mall calls the group-buy services in process (``order_lock``, ``order_settle``) on
``MALL_SOURCE``/``MALL_CHANNEL``; its order id is the group-buy ``out_trade_no`` and the user's
username the ``userId``.

Order states: CREATE (row written, seat not locked yet) → PAY_WAIT (seat locked, pay URL) →
PAY_SUCCESS (paid and settled, or flagged ``refund_required``) → DEAL_DONE (team complete);
a full-price order bought alone (``market_type`` NONE, no team, no lock) goes PAY_WAIT → DEAL_DONE on payment;
CREATE/PAY_WAIT → CLOSE (lock rejected, or not paid in time). Every transition is a conditional
UPDATE on the expected state, so racing callers (a retried create, duplicate notifies, the close
job against a late notify) change a row once.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from prometheus_client import Counter

from apps.activities.selectors import sku_activity_id, sku_config
from apps.activities.trial import TrialRequest, trial_calculate
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.shopper_messages import ALREADY_IN_TEAM
from apps.dcc.runtime import dcc_get
from apps.payments import conf
from apps.payments.gateways import payment_gateway
from apps.payments.models import PayOrder, RefundRecord
from apps.payments.selectors import UNPAID_STATUSES, team_end_subquery
from apps.trade.lock import LockCommand
from apps.trade.models import LIVE_ORDER_STATUSES, NotifyType, Order
from apps.trade.services import order_lock, order_refund, order_settle
from apps.trade.settle import SettleCommand

logger = logging.getLogger(__name__)

MALL_ORDERS = Counter("gbm_mall_orders_total", "Mall order creations by outcome", ["outcome"])
MALL_SOLO_ORDERS = Counter("gbm_mall_solo_orders_total", "Full-price (buy alone) mall orders created")
PAYMENT_NOTIFIES = Counter("gbm_payment_notifies_total", "Gateway payment notifies by outcome", ["outcome"])

# Codes that say "try again" rather than "no": the order stays as it was (CREATE, or PAY_WAIT
# for a payment), so a retry resumes it.
TRANSIENT_CODES = frozenset({"0001", "0004", "0005", "0007"})
PAID_TRADE_STATUSES = frozenset({"TRADE_SUCCESS", "TRADE_FINISHED"})
_ID_ATTEMPTS = 5
_TEAM_ID = re.compile(r"^\d{8}$")
_AMOUNT = re.compile(r"^\d{1,8}(\.\d{1,2})?$")
_GATEWAY_TZ = ZoneInfo("Asia/Shanghai")


def new_mall_order_id() -> str:
    """18 digits: local time to the second, then 6 random digits (unique key; collisions retried)."""
    return timezone.localtime().strftime("%y%m%d%H%M%S") + f"{secrets.randbelow(10**6):06d}"


def response_code_of(code: str) -> ResponseCode:
    return next((rc for rc in ResponseCode if rc.code == code), ResponseCode.UN_ERROR)


# --- create ------------------------------------------------------------------------------------------------


def mall_order_create(
    *, user, goods_id: str, team_id: str | None = None, idempotency_key: str | None = None
) -> PayOrder:
    """Order ``goods_id`` at the group-buy price: open a team, or join ``team_id``.

    1. Write the order as CREATE (the intent, with the trial's prices). 2. Lock a seat in process
    (``order_lock``, out_trade_no = order id, MQ callback). 3. CREATE → PAY_WAIT with the locked
    prices, the team and the gateway's pay URL. Not one transaction: the lock is the trade's own
    transaction; a crash between the steps leaves a CREATE order that the close job closes (a seat
    it may hold is released by the trade's timeout job).

    Rejections before step 1 (unknown goods E0002, downgrade E0003, ...) write nothing. A lock
    rejection (E0006, E0103, ...) closes the order with ``market_code`` = the code and re-raises;
    a transient one (0007 Redis down) leaves it CREATE, so a retry with the same key resumes it.

    ``idempotency_key``: the same user and key always mean the same order, also for racing calls
    (the unique key (user, idempotency_key) lets one insert win; the others resume that order —
    the lock is idempotent on its out_trade_no). A key reused for other goods or another team is
    refused (0002); a replay of a rejected create raises its rejection again.
    """
    key = (idempotency_key or "").strip() or None
    team_id = (team_id or "").strip() or None
    if key is not None and len(key) > 64:
        raise _illegal("Idempotency-Key", gettext("at most 64 characters"))
    if team_id is not None and not _TEAM_ID.match(team_id):
        raise _illegal("teamId", gettext("no such team"))
    order = _keyed_order(user, key) if key else None
    if order is None:
        if team_id and _in_team(user, team_id):
            raise GroupBuyError(ResponseCode.E0103, "you are already in this team", data={"reason": ALREADY_IN_TEAM})
        trial = trial_calculate(
            TrialRequest(
                user_id=user.get_username(),
                source=settings.MALL_SOURCE,
                channel=settings.MALL_CHANNEL,
                goods_id=goods_id,
            )
        )
        order = _insert_created(user=user, sku=trial.sku, original=trial.original_price,
                                deduction=trial.deduction_price, pay=trial.pay_price,
                                market_type=PayOrder.MarketType.GROUP_BUY, team_id=team_id, key=key)  # fmt: skip
    if (
        order.product_id != goods_id
        or (team_id and order.team_id != team_id)
        or order.market_type != PayOrder.MarketType.GROUP_BUY
    ):
        raise _illegal("Idempotency-Key", gettext("already used for another order"))
    if order.status == PayOrder.Status.CREATE:
        order = _lock_seat(order)
    elif order.status == PayOrder.Status.CLOSE and order.market_code:
        raise GroupBuyError(response_code_of(order.market_code))
    return order


def _in_team(user, team_id: str) -> bool:
    """The user holds a live seat in ``team_id`` on the mall's channel (joining it again would take a second one)."""
    return Order.objects.filter(
        team_id=team_id,
        user_id=user.get_username(),
        source=settings.MALL_SOURCE,
        channel=settings.MALL_CHANNEL,
        status__in=LIVE_ORDER_STATUSES,
    ).exists()


def mall_order_create_alone(*, user, goods_id: str, idempotency_key: str | None = None) -> PayOrder:
    """ "Buy alone at full price": the mall's normal order, without group buy.

    No trial, no team, no lock, no group-buy take limit: the order is written PAY_WAIT at the SKU's
    original price (``market_type`` NONE) with the gateway's pay URL, and its payment makes it
    DEAL_DONE (``mall_order_paid``). Only goods the mall sells on its channel (the channel mapping)
    can be bought; others are E0002. The idempotency key works as for ``mall_order_create``.
    """
    key = (idempotency_key or "").strip() or None
    if key is not None and len(key) > 64:
        raise _illegal("Idempotency-Key", gettext("at most 64 characters"))
    order = _keyed_order(user, key) if key else None
    if order is None:
        sku = sku_config(goods_id=goods_id)
        if (
            sku is None
            or sku_activity_id(source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL, goods_id=goods_id) is None
        ):
            raise GroupBuyError(ResponseCode.E0002)
        order = _insert_created(
            user=user, sku=sku, original=sku.original_price, deduction=Decimal("0.00"), pay=sku.original_price,
            market_type=PayOrder.MarketType.NONE, team_id=None, key=key,
        )  # fmt: skip
    if order.product_id != goods_id or order.market_type != PayOrder.MarketType.NONE:
        raise _illegal("Idempotency-Key", gettext("already used for another order"))
    if order.status == PayOrder.Status.CREATE:
        pay_url = payment_gateway().page_pay_url(order)
        PayOrder.objects.filter(pk=order.pk, status=PayOrder.Status.CREATE).update(
            status=PayOrder.Status.PAY_WAIT, pay_url=pay_url, update_time=timezone.now()
        )
        MALL_SOLO_ORDERS.inc()
        order = PayOrder.objects.select_related("user").get(pk=order.pk)
    return order


def _illegal(field: str, message: str) -> GroupBuyError:
    return GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, f"{field}: {message}", data={field: [message]})


def _keyed_order(user, key: str) -> PayOrder | None:
    return PayOrder.objects.select_related("user").filter(user=user, idempotency_key=key).first()


def _insert_created(
    *,
    user,
    sku,
    original: Decimal,
    deduction: Decimal,
    pay: Decimal,
    market_type: int,
    team_id: str | None,
    key: str | None,
) -> PayOrder:
    for _ in range(_ID_ATTEMPTS):
        candidate = new_mall_order_id()
        try:
            with transaction.atomic():
                return PayOrder.objects.create(
                    order_id=candidate,
                    user=user,
                    product_id=sku.goods_id,
                    product_name=sku.goods_name,
                    order_time=timezone.now(),
                    total_amount=original,
                    market_deduction_amount=deduction,
                    pay_amount=pay,
                    market_type=market_type,
                    status=PayOrder.Status.CREATE,
                    team_id=team_id or "",
                    idempotency_key=key,
                )
        except IntegrityError:
            twin = _keyed_order(user, key) if key else None
            if twin is not None:
                MALL_ORDERS.labels("replay").inc()
                return twin
            if not PayOrder.objects.filter(order_id=candidate).exists():
                raise
    raise IntegrityError(f"no free mall order id after {_ID_ATTEMPTS} attempts")


def _lock_seat(order: PayOrder) -> PayOrder:
    activity_id = sku_activity_id(source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL, goods_id=order.product_id)
    command = LockCommand(
        user_id=order.user.get_username(),
        source=settings.MALL_SOURCE,
        channel=settings.MALL_CHANNEL,
        goods_id=order.product_id,
        activity_id=activity_id or 0,
        out_trade_no=order.order_id,
        team_id=order.team_id or None,
        notify_type=NotifyType.MQ,
    )
    try:
        if activity_id is None:
            raise GroupBuyError(ResponseCode.E0002)
        locked = order_lock(command=command)
    except GroupBuyError as exc:
        if exc.code not in TRANSIENT_CODES:
            PayOrder.objects.filter(pk=order.pk, status=PayOrder.Status.CREATE).update(
                status=PayOrder.Status.CLOSE, market_code=exc.code, update_time=timezone.now()
            )
        MALL_ORDERS.labels(exc.code).inc()
        logger.info("mall order %s: lock refused %s (%s)", order.order_id, exc.code, exc.info)
        raise
    order.team_id = locked.team_id
    order.total_amount = locked.original_price
    order.market_deduction_amount = locked.deduction_price
    order.pay_amount = locked.pay_price
    pay_url = payment_gateway().page_pay_url(order)
    PayOrder.objects.filter(pk=order.pk, status=PayOrder.Status.CREATE).update(
        team_id=locked.team_id,
        total_amount=locked.original_price,
        market_deduction_amount=locked.deduction_price,
        pay_amount=locked.pay_price,
        market_type=PayOrder.MarketType.GROUP_BUY,
        status=PayOrder.Status.PAY_WAIT,
        pay_url=pay_url,
        update_time=timezone.now(),
    )
    MALL_ORDERS.labels("created").inc()
    return PayOrder.objects.select_related("user").get(pk=order.pk)  # whoever moved it: the row as it is


# --- pay ---------------------------------------------------------------------------------------------------


def mall_order_paid(*, order_id: str, trade_no: str, paid_amount: Decimal, paid_at: datetime) -> PayOrder:
    """The gateway took ``paid_amount`` for ``order_id``: PAY_WAIT → PAY_SUCCESS once, then settle.

    One transaction: the conditional UPDATE and ``order_settle``. A settlement refusal (E0106 paid
    after the team's end, E0104 team no longer in progress, E0105 blacklisted) keeps the payment:
    the order stays PAY_SUCCESS with ``refund_required`` and ``market_code`` (the refund work
    returns the money). A transient failure (0004, 0007, a deadlock) rolls the whole thing back
    and raises, so the notify answers ``fail`` and the gateway retries.

    Again for a paid order: nothing changes (a second, different trade_no is logged: a double
    payment to refund). For an order closed unpaid (not paid in time, or its seat given back):
    flagged ``refund_required`` once. A closed order that already has a trade_no was flagged or
    refunded before: a re-delivered notify (gateways repeat them for days) changes nothing.
    """
    with transaction.atomic():
        marked = PayOrder.objects.filter(
            order_id=order_id, status=PayOrder.Status.PAY_WAIT, pay_amount=paid_amount
        ).update(status=PayOrder.Status.PAY_SUCCESS, trade_no=trade_no, pay_time=paid_at, update_time=timezone.now())
        order = PayOrder.objects.select_related("user").get(order_id=order_id)
        if not marked:
            return _paid_again(order, trade_no=trade_no, paid_amount=paid_amount, paid_at=paid_at)
        if order.market_type == PayOrder.MarketType.GROUP_BUY:
            _settle(order, paid_at)
        else:  # bought alone: nothing to wait for
            PayOrder.objects.filter(pk=order.pk, status=PayOrder.Status.PAY_SUCCESS).update(
                status=PayOrder.Status.DEAL_DONE, update_time=timezone.now()
            )
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
        transaction.on_commit(lambda: _enqueue_refund(order.order_id, refused))
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
            transaction.on_commit(lambda: _enqueue_refund(order.order_id, "paid after the order closed"))
            logger.error(
                "mall order %s paid after it was closed (trade %s): flagged for refund", order.order_id, trade_no
            )
            order.refresh_from_db()
        return order
    raise GroupBuyError(
        ResponseCode.UPDATE_ZERO, gettext("the order is not waiting for payment yet")
    )  # CREATE: retry later


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
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=_GATEWAY_TZ)
    except ValueError:
        return timezone.now()


# --- close and complete ------------------------------------------------------------------------------------


def mall_order_close_expired(*, now: datetime | None = None) -> int:
    """Close unpaid orders (CREATE, PAY_WAIT) past their pay deadline; returns how many.

    The deadline is ``order_time + lockTimeoutMinutes`` (DCC), or the team's end if sooner. The
    UPDATE repeats the state condition, so an order paid meanwhile stays paid. The group-buy seat
    such an order holds is released by the trade's own timeout job (domain.md section 7), which
    refunds the lock as ``unpaid_unlock``.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=dcc_get("lockTimeoutMinutes"))
    batch = conf.setting_int("MALL_ORDER_CLOSE_BATCH", 500)
    closed = 0
    while True:
        ids = list(
            PayOrder.objects.filter(status__in=UNPAID_STATUSES)
            .annotate(team_end=team_end_subquery())
            .filter(Q(order_time__lt=cutoff) | Q(team_end__lte=now))
            .order_by("id")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            break
        closed += PayOrder.objects.filter(pk__in=ids, status__in=UNPAID_STATUSES).update(
            status=PayOrder.Status.CLOSE, update_time=now
        )
        if len(ids) < batch:
            break
    if closed:
        logger.info("closed %s unpaid mall orders", closed)
    return closed


def mall_orders_deal_done(*, out_trade_nos: list[str]) -> int:
    """The team completed (its ``trade_settlement`` callback): its paid mall orders → DEAL_DONE."""
    return PayOrder.objects.filter(
        order_id__in=out_trade_nos, status=PayOrder.Status.PAY_SUCCESS, refund_required=False
    ).update(status=PayOrder.Status.DEAL_DONE, update_time=timezone.now())


# --- refunds of the mall's money ----------------------------------------------------------------------

PAID_STATUSES = (PayOrder.Status.PAY_SUCCESS, PayOrder.Status.DEAL_DONE)


def mall_order_refund_money(*, order_id: str, reason: str, operator=None) -> RefundRecord | None:
    """Give a paid mall order's money back through its gateway and close the order.

    Idempotent: one RefundRecord per order (``out_request_no`` = ``RF`` + order id, which the gateway
    deduplicates too), a succeeded refund is never sent again. An unpaid order is just closed.
    Returns the record, or None when there was no money to return.
    """
    order = PayOrder.objects.filter(order_id=order_id).first()
    if order is None:
        return None
    paid = order.status in PAID_STATUSES or (order.status == PayOrder.Status.CLOSE and order.refund_required)
    if not paid:
        PayOrder.objects.filter(pk=order.pk, status__in=UNPAID_STATUSES).update(
            status=PayOrder.Status.CLOSE, update_time=timezone.now()
        )
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
            PayOrder.objects.filter(pk=order.pk).update(
                status=PayOrder.Status.CLOSE, refund_required=False, update_time=now
            )
    record.refresh_from_db()
    if not result.success:
        logger.error("refund %s of mall order %s failed: %s", record.out_request_no, order.order_id, result.raw)
    return record


def mall_refund_operator_record(*, order_id: str, operator, reason: str = "") -> RefundRecord | None:
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
    if order is None:
        return None
    paid = order.status in PAID_STATUSES or (order.status == PayOrder.Status.CLOSE and order.refund_required)
    if not paid:
        return None
    record, created = RefundRecord.objects.get_or_create(
        out_request_no=f"RF{order_id}",
        defaults={"pay_order": order, "amount": order.pay_amount, "reason": reason[:256], "operator": operator},
    )
    if not created and record.operator_id is None:
        RefundRecord.objects.filter(pk=record.pk, operator__isnull=True).update(operator=operator)
        record.operator = operator
    return record


def _for_this_mall(body: dict) -> bool:
    """The bus is shared by every channel: only callbacks about this mall's own channel name its orders.

    Matching by ``outTradeNo`` alone would let another mall's order of the same number close (and refund)
    one of ours; a message without source/channel is not ours either.
    """
    return (body.get("source"), body.get("channel")) == (settings.MALL_SOURCE, settings.MALL_CHANNEL)


def mall_on_team_success(body: dict) -> None:
    """Bus/HTTP callback ``trade_settlement``: the team completed, its paid orders are done."""
    if _for_this_mall(body):
        mall_orders_deal_done(out_trade_nos=list(body.get("outTradeNoList") or []))


def mall_on_team_refund(body: dict) -> None:
    """Bus/HTTP callback of a refund: close the order; return the money when it was paid."""
    order_id = body.get("outTradeNo") or ""
    if not _for_this_mall(body) or not PayOrder.objects.filter(order_id=order_id).exists():
        return  # another mall's order on the shared bus
    transaction.on_commit(lambda: _enqueue_refund(order_id, body.get("type", "")))


def _enqueue_refund(order_id: str, reason: str) -> None:
    from apps.payments.tasks import refund_mall_order

    refund_mall_order.delay(order_id, reason)


REFUNDABLE = (PayOrder.Status.PAY_WAIT, PayOrder.Status.PAY_SUCCESS, PayOrder.Status.DEAL_DONE)


def mall_order_refund_request(*, user, order_id: str):
    """The shopper gives their seat back (and their money, once the refund callback arrives).

    Goes through the group-buy refund, whose ``topic.team_refund`` message closes this order and
    returns the money (``mall_on_team_refund``), so the mall and the team never disagree.
    """
    order = PayOrder.objects.filter(order_id=order_id, user=user).first()
    if order is None:
        raise GroupBuyError(ResponseCode.NOT_FOUND)
    if order.market_type == PayOrder.MarketType.NONE:
        return _solo_refund_request(order)
    if order.status not in REFUNDABLE and order.status != PayOrder.Status.CLOSE:
        raise GroupBuyError(ResponseCode.E0104, gettext("this order has no seat to give back yet"))
    return order_refund(
        source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL, out_trade_no=order.order_id,
        user_id=user.get_username(),
    )  # fmt: skip


@dataclass(frozen=True)
class SoloRefund:
    """The answer to a refund request of an order bought alone (no seat, no team to go through)."""

    order: PayOrder
    repeat: bool


def _solo_refund_request(order: PayOrder) -> SoloRefund:
    """Unpaid: closed now. Paid: the money goes back through the gateway (the refund task, after commit)."""
    if order.status in UNPAID_STATUSES:
        PayOrder.objects.filter(pk=order.pk, status__in=UNPAID_STATUSES).update(
            status=PayOrder.Status.CLOSE, update_time=timezone.now()
        )
        return SoloRefund(order=order, repeat=False)
    if order.status in PAID_STATUSES:
        requested = PayOrder.objects.filter(pk=order.pk, status=order.status, refund_required=False).update(
            refund_required=True, update_time=timezone.now()
        )
        if requested:
            transaction.on_commit(lambda: _enqueue_refund(order.order_id, "bought alone: refund requested"))
        return SoloRefund(order=order, repeat=not requested)
    return SoloRefund(order=order, repeat=True)


def group_buy_callback_handle(*, task_uuid: str, timestamp: str, signature: str, body: bytes) -> bool:
    """The mall's HTTP receiver of our team callbacks: verify our signature, apply once per task uuid."""
    import json

    from apps.accounts.selectors import channel_credential_get
    from apps.accounts.signing import verify_callback_signature
    from apps.notifications.models import ProcessedMessage

    credential = channel_credential_get(source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL)
    if credential is None or not verify_callback_signature(credential.secret, timestamp, body, signature):
        logger.warning("group-buy callback %s: bad signature, ignored", task_uuid)
        return False
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    if not isinstance(payload, dict) or not task_uuid:
        return False
    with transaction.atomic():
        _, created = ProcessedMessage.objects.get_or_create(consumer="mall.http_callback", message_uuid=task_uuid)
        if created:
            (mall_on_team_refund if payload.get("type") else mall_on_team_success)(payload)
    return True
