"""The mall's orders (pay_order): create one with a locked seat or bought alone, give it back, close it
when unpaid too long, mark it done when its team completes.

The mall calls the group-buy services in process (``order_lock``, ``order_refund``) on
``MALL_SOURCE``/``MALL_CHANNEL``; its order id is the group-buy ``out_trade_no`` and the user's
username the ``userId``. Payment is ``notify.py``, money going back ``refunds.py``. "Join the team closest to
full" (``mall_order_auto_join``) picks the team and falls through to the next or a new one
(docs/decisions/013-auto-form-threshold-and-auto-join.md).

Order states (the table ``PAY_ORDER_TRANSITIONS`` next to the model): CREATE (row written, seat not
locked yet) → PAY_WAIT (seat locked, pay URL) → PAY_SUCCESS (paid and settled, or flagged
``refund_required``) → DEAL_DONE (team complete); a full-price order bought alone (``market_type`` NONE,
no team, no lock) goes PAY_WAIT → DEAL_DONE on payment; CREATE/PAY_WAIT → CLOSE (lock rejected, or not
paid in time). Every change is ``pay_order_transition``, a conditional UPDATE on the expected state, so
racing callers (a retried create, duplicate notifies, the close job against a late notify) change a row once.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from prometheus_client import Counter

from apps.accounts.models import User
from apps.activities.selectors import SkuConfig, sku_activity_id, sku_config
from apps.activities.trial import Intent, TrialRequest, trial_calculate
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.shopper_messages import ALREADY_IN_TEAM
from apps.dcc.runtime import dcc_get
from apps.payments.gateways import payment_gateway
from apps.payments.models import PayOrder, pay_order_transition
from apps.payments.refunds import PAID_STATUSES, mall_order_refund_enqueue
from apps.payments.selectors import UNPAID_STATUSES, mall_order_joined_a_team, team_end_subquery
from apps.trade.lock import LockCommand, LockResult
from apps.trade.models import LIVE_ORDER_STATUSES, NotifyType, Order
from apps.trade.selectors import auto_join_candidates
from apps.trade.services import RefundOutcome, order_lock, order_refund

logger = logging.getLogger(__name__)

MALL_ORDERS = Counter("gbm_mall_orders_total", "Mall order creations by outcome", ["outcome"])
MALL_SOLO_ORDERS = Counter("gbm_mall_solo_orders_total", "Full-price (buy alone) mall orders created")
MALL_AUTO_JOINS = Counter(
    "gbm_mall_auto_joins_total", "Auto-join lock attempts: joined, tried the next team, opened a new one", ["outcome"]
)

# Codes that say "try again" rather than "no": the order stays as it was (CREATE, or PAY_WAIT
# for a payment), so a retry resumes it.
TRANSIENT_CODES = frozenset({"0001", "0004", "0005", "0007"})
REFUNDABLE = (PayOrder.Status.PAY_WAIT, PayOrder.Status.PAY_SUCCESS, PayOrder.Status.DEAL_DONE)
_ID_ATTEMPTS = 5
_TEAM_ID = re.compile(r"^\d{8}$")


def new_mall_order_id() -> str:
    """18 digits: local time to the second, then 6 random digits (unique key; collisions retried)."""
    return timezone.localtime().strftime("%y%m%d%H%M%S") + f"{secrets.randbelow(10**6):06d}"


def response_code_of(code: str) -> ResponseCode:
    return next((rc for rc in ResponseCode if rc.code == code), ResponseCode.UN_ERROR)


# --- create ------------------------------------------------------------------------------------------------


def mall_order_create(
    *,
    user: User,
    goods_id: str,
    team_id: str | None = None,
    idempotency_key: str | None = None,
    auto_join: bool = False,
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

    ``auto_join`` (without ``team_id``, else 0002): join the team closest to full instead of opening one
    (``_auto_join_lock``); ``mall_order_auto_join`` says which it did.
    """
    key = (idempotency_key or "").strip() or None
    team_id = (team_id or "").strip() or None
    if key is not None and len(key) > 64:
        raise _illegal("Idempotency-Key", gettext("at most 64 characters"))
    if team_id is not None and auto_join:
        raise _illegal("autoJoin", gettext("give either teamId or autoJoin, not both"))
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
                intent=Intent.OPEN,  # the intent's prices only; who may join is the lock's to decide
            )
        )
        deduction, pay = trial.prices_for(opening=team_id is None)  # the lock charges the same (a leader offer)
        order = _insert_created(user=user, sku=trial.sku, original=trial.original_price,
                                deduction=deduction, pay=pay,
                                market_type=PayOrder.MarketType.GROUP_BUY, team_id=team_id, key=key)  # fmt: skip
    if (
        order.product_id != goods_id
        or (team_id and order.team_id != team_id)
        or order.market_type != PayOrder.MarketType.GROUP_BUY
    ):
        raise _illegal("Idempotency-Key", gettext("already used for another order"))
    if order.status == PayOrder.Status.CREATE:
        order = _lock_seat(order, auto_join=auto_join)
    elif order.status == PayOrder.Status.CLOSE and order.market_code:
        raise GroupBuyError(response_code_of(order.market_code))
    return order


def _in_team(user: User, team_id: str) -> bool:
    """The user holds a live seat in ``team_id`` on the mall's channel (joining it again would take a second one)."""
    return Order.objects.filter(
        team_id=team_id,
        user_id=user.get_username(),
        source=settings.MALL_SOURCE,
        channel=settings.MALL_CHANNEL,
        status__in=LIVE_ORDER_STATUSES,
    ).exists()


def mall_order_create_alone(*, user: User, goods_id: str, idempotency_key: str | None = None) -> PayOrder:
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
        pay_order_transition(Q(pk=order.pk), from_={PayOrder.Status.CREATE}, to=PayOrder.Status.PAY_WAIT,
                             pay_url=pay_url)  # fmt: skip
        MALL_SOLO_ORDERS.inc()
        order = PayOrder.objects.select_related("user").get(pk=order.pk)
    return order


def _illegal(field: str, message: str) -> GroupBuyError:
    return GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, f"{field}: {message}", data={field: [message]})


def _keyed_order(user: User, key: str) -> PayOrder | None:
    return PayOrder.objects.select_related("user").filter(user=user, idempotency_key=key).first()


def _insert_created(
    *,
    user: User,
    sku: SkuConfig,
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


def _lock_seat(order: PayOrder, *, auto_join: bool = False) -> PayOrder:
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
        locked = _auto_join_lock(command) if auto_join and not order.team_id else order_lock(command=command)
    except GroupBuyError as exc:
        if exc.code not in TRANSIENT_CODES:
            pay_order_transition(Q(pk=order.pk), from_={PayOrder.Status.CREATE}, to=PayOrder.Status.CLOSE,
                                 market_code=exc.code)  # fmt: skip
        MALL_ORDERS.labels(exc.code).inc()
        logger.info("mall order %s: lock refused %s (%s)", order.order_id, exc.code, exc.info)
        raise
    order.team_id = locked.team_id
    order.total_amount = locked.original_price
    order.market_deduction_amount = locked.deduction_price
    order.pay_amount = locked.pay_price
    pay_url = payment_gateway().page_pay_url(order)
    pay_order_transition(
        Q(pk=order.pk),
        from_={PayOrder.Status.CREATE},
        to=PayOrder.Status.PAY_WAIT,
        team_id=locked.team_id,
        total_amount=locked.original_price,
        market_deduction_amount=locked.deduction_price,
        pay_amount=locked.pay_price,
        market_type=PayOrder.MarketType.GROUP_BUY,
        pay_url=pay_url,
    )
    MALL_ORDERS.labels("created").inc()
    return PayOrder.objects.select_related("user").get(pk=order.pk)  # whoever moved it: the row as it is


# --- auto-join: the team closest to full ---------------------------------------------------------------------

# A candidate that filled, closed or expired between the pick and the lock: the next one is tried.
_TRY_NEXT = frozenset({ResponseCode.E0006.code, ResponseCode.E0005.code})
# Joiners must be new customers (Activity.new_customers_only): no candidate will take this user, a new team will.
_OPEN_INSTEAD = frozenset({ResponseCode.E0107.code})


@dataclass(frozen=True)
class AutoJoinOutcome:
    order: PayOrder
    joined: bool  # True: a seat in an existing team; False: no team had one, a new team was opened


def mall_order_auto_join(*, user: User, goods_id: str, idempotency_key: str | None = None) -> AutoJoinOutcome:
    """ "Join the team closest to full" in one step: ``mall_order_create`` with ``auto_join``.

    The lock tries the candidates of ``apps.trade.selectors.auto_join_candidates`` (most seats taken first,
    then the earliest deadline; never a team the user is in) one after the other while each answers
    "full" or "closed" (E0006/E0005: it filled or ended since the pick), at most ``AUTO_JOIN_CANDIDATES``;
    with none left it opens a new team. Any other refusal (take limit, sold out...) is the answer.
    Idempotent as ``mall_order_create``: a retry with the same key answers the same order and the same
    ``joined``. docs/decisions/013-auto-form-threshold-and-auto-join.md.
    """
    order = mall_order_create(user=user, goods_id=goods_id, idempotency_key=idempotency_key, auto_join=True)
    return AutoJoinOutcome(order=order, joined=mall_order_joined_a_team(order=order))


def _auto_join_lock(command: LockCommand) -> LockResult:
    candidates = auto_join_candidates(
        activity_id=command.activity_id, source=command.source, channel=command.channel, user_id=command.user_id
    )
    for team_id in candidates:
        try:
            locked = order_lock(command=replace(command, team_id=team_id))
        except GroupBuyError as exc:
            if exc.code in _OPEN_INSTEAD:
                break
            if exc.code not in _TRY_NEXT:
                raise
            MALL_AUTO_JOINS.labels("tried_next").inc()
            logger.info("auto-join of %s: team %s refused %s, trying the next", command.out_trade_no, team_id,
                        exc.code)  # fmt: skip
            continue
        MALL_AUTO_JOINS.labels("joined").inc()
        return locked
    MALL_AUTO_JOINS.labels("opened").inc()
    return order_lock(command=command)  # no team_id: a new team (or, for a retry, the order it already has)


# --- give back ---------------------------------------------------------------------------------------------


def mall_order_refund_request(*, user: User, order_id: str) -> SoloRefund | RefundOutcome:
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
    strategy: str  # SOLO_CLOSE (unpaid: nothing was charged) or SOLO_REFUND (paid: money goes back); "" for a repeat


SOLO_CLOSE = "solo_close"
SOLO_REFUND = "solo_refund"


def _solo_refund_request(order: PayOrder) -> SoloRefund:
    """Unpaid: closed now. Paid: the money goes back through the gateway (the refund task, after commit)."""
    if order.status in UNPAID_STATUSES:
        pay_order_transition(Q(pk=order.pk), from_=UNPAID_STATUSES, to=PayOrder.Status.CLOSE)
        return SoloRefund(order=order, repeat=False, strategy=SOLO_CLOSE)
    if order.status in PAID_STATUSES:
        requested = PayOrder.objects.filter(pk=order.pk, status=order.status, refund_required=False).update(
            refund_required=True, update_time=timezone.now()
        )
        if requested:
            transaction.on_commit(lambda: mall_order_refund_enqueue(order.order_id, "bought alone: refund requested"))
        return SoloRefund(order=order, repeat=not requested, strategy=SOLO_REFUND if requested else "")
    return SoloRefund(order=order, repeat=True, strategy="")


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
    batch = settings.MALL_ORDER_CLOSE_BATCH
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
        closed += pay_order_transition(Q(pk__in=ids), from_=UNPAID_STATUSES, to=PayOrder.Status.CLOSE, update_time=now)
        if len(ids) < batch:
            break
    if closed:
        logger.info("closed %s unpaid mall orders", closed)
    return closed


def mall_orders_deal_done(*, out_trade_nos: list[str]) -> int:
    """The team completed (its ``trade_settlement`` callback): its paid mall orders → DEAL_DONE."""
    return pay_order_transition(
        Q(order_id__in=out_trade_nos, refund_required=False),
        from_={PayOrder.Status.PAY_SUCCESS},
        to=PayOrder.Status.DEAL_DONE,
    )
