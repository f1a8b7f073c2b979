"""Writes of teams and orders. Every state change of a team or order goes through here."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext
from redis.exceptions import RedisError

from apps.common.cache import cache_delete
from apps.common.errors import GroupBuyError, ResponseCode
from apps.notifications.models import NotifyTask
from apps.notifications.services import notify_task_create
from apps.trade.ids import ID_ATTEMPTS, new_order_id, new_team_id
from apps.trade.lock import LockCommand, LockContext, LockResult, existing_order, lock_chain, replay
from apps.trade.metrics import LOCKS, REFUNDS, SETTLEMENTS, TEAMS_COMPLETED, TEAMS_FAILED
from apps.trade.models import NotifyType, Order, Team
from apps.trade.refunds import RefundOutcome, strategy_for
from apps.trade.selectors import joinable_teams_key
from apps.trade.settle import SettleCommand, SettleContext, SettleResult, settle_chain
from apps.trade.team_stock import Occupation, team_seat_occupy, team_seat_release

logger = logging.getLogger(__name__)

_DEADLOCK_ATTEMPTS = 3
_RETRYABLE_DB_ERRORS = {1205, 1213}  # MariaDB lock wait timeout, deadlock


def order_lock(*, command: LockCommand) -> LockResult:
    """Lock a seat for ``command``: open a new team or join ``command.team_id``.

    Idempotent on (source, channel, out_trade_no): a retry returns the same order, also when
    retries race each other — a retry refused because its twin just won (take limit, unique keys)
    looks again and answers with the twin's order. A join first occupies a Redis seat; every
    failure after that gives the seat back. The database's ``lock_count < target_count`` guard is
    the last word.
    """
    try:
        result, outcome = _lock(command)
    except GroupBuyError as exc:
        winner = existing_order(command)
        if winner is None:
            LOCKS.labels(exc.code).inc()
            raise
        result, outcome = replay(winner, command), "replay"
    LOCKS.labels(outcome).inc()
    return result


def _lock(command: LockCommand) -> tuple[LockResult, str]:
    ctx = LockContext()
    replayed = lock_chain.run(command, ctx)
    if replayed is not None:
        return replayed, "replay"
    seat_taken = _occupy_seat(command, ctx) if ctx.team is not None else False
    try:
        order = _write_with_retry(command, ctx)
    except BaseException as exc:
        # A connection lost during COMMIT leaves the outcome unknown: keep the seat if the order exists.
        if seat_taken and (isinstance(exc, GroupBuyError) or existing_order(command) is None):
            team_seat_release(team_id=ctx.team.team_id, out_trade_no=command.out_trade_no)
        if isinstance(exc, IntegrityError):
            # A concurrent lock with the same out_trade_no or the same take slot (biz_id) won.
            raise GroupBuyError(ResponseCode.E0103) from None
        raise
    return LockResult.of(order), "locked"


def _occupy_seat(command: LockCommand, ctx: LockContext) -> bool:
    """True when this call took a seat (and so must give it back on failure)."""
    team = ctx.team
    try:
        occupation = team_seat_occupy(
            team_id=team.team_id,
            out_trade_no=command.out_trade_no,
            target=team.target_count,
            valid_minutes=ctx.trial.activity.valid_time,
        )
    except (RedisError, OSError) as exc:
        logger.warning("team stock unavailable for team %s: %s", team.team_id, exc)
        raise GroupBuyError(ResponseCode.SERVICE_UNAVAILABLE, gettext("team stock unavailable, please retry")) from None
    if occupation is Occupation.FULL:
        raise GroupBuyError(ResponseCode.E0008)
    # DUPLICATE: a retry of this very order holds the seat; the database settles which one wins.
    return occupation is Occupation.TAKEN


def _write_with_retry(command: LockCommand, ctx: LockContext) -> Order:
    """One transaction, retried whole on a deadlock or lock wait timeout and when a random id collided.

    A collision (another team or order already has the drawn id) is told apart from the other unique
    keys (out_trade_no, biz_id: the caller's business) by looking the ids up after the rollback. Retrying
    the whole transaction instead of a savepoint per insert saves two round trips per insert.
    """
    for attempt in range(1, max(_DEADLOCK_ATTEMPTS, ID_ATTEMPTS) + 1):
        team_id = new_team_id() if ctx.team is None else ctx.team.team_id
        order_id = new_order_id()
        try:
            with transaction.atomic():
                return _write(command, ctx, team_id=team_id, order_id=order_id)
        except OperationalError as exc:
            if exc.args and exc.args[0] in _RETRYABLE_DB_ERRORS and attempt < _DEADLOCK_ATTEMPTS:
                logger.info("lock transaction retried after %s", exc.args)
                continue
            raise
        except IntegrityError:
            if attempt < ID_ATTEMPTS and _id_taken(team_id=team_id if ctx.team is None else None, order_id=order_id):
                logger.info("lock transaction retried after an id collision")
                continue
            raise
    raise AssertionError("unreachable")


def _id_taken(*, team_id: str | None, order_id: str) -> bool:
    return Order.objects.filter(order_id=order_id).exists() or bool(
        team_id and Team.objects.filter(team_id=team_id).exists()
    )


def _write(command: LockCommand, ctx: LockContext, *, team_id: str, order_id: str) -> Order:
    now = timezone.now()
    trial = ctx.trial
    if ctx.team is not None:
        joined = Team.objects.filter(
            team_id=ctx.team.team_id,
            status=Team.Status.IN_PROGRESS,
            lock_count__lt=F("target_count"),
            valid_end_time__gt=now,
        ).update(lock_count=F("lock_count") + 1, update_time=now)
        if not joined:
            raise GroupBuyError(ResponseCode.E0005)
        team = ctx.team
    else:
        team = Team.objects.create(
            team_id=team_id,
            activity_id=command.activity_id,
            source=command.source,
            channel=command.channel,
            original_price=trial.original_price,
            deduction_price=trial.deduction_price,
            pay_price=trial.pay_price,
            target_count=trial.activity.target,
            lock_count=1,
            complete_count=0,
            status=Team.Status.IN_PROGRESS,
            valid_start_time=now,
            valid_end_time=now + timedelta(minutes=trial.activity.valid_time),
            notify_type=command.notify_type,
            notify_url=command.notify_url,
        )
    return Order.objects.create(
        order_id=order_id,
        user_id=command.user_id,
        team=team,
        activity_id=command.activity_id,
        sku_id=command.goods_id,
        source=command.source,
        channel=command.channel,
        original_price=trial.original_price,
        deduction_price=trial.deduction_price,
        pay_price=trial.pay_price,
        status=Order.Status.LOCKED,
        out_trade_no=command.out_trade_no,
        biz_id=ctx.biz_id,
    )


def order_settle(*, command: SettleCommand) -> SettleResult:
    """Record the payment of a locked order; the payment that fills the team completes it.

    One transaction: order 0→1 (only from 0), ``complete_count + 1`` guarded by
    ``complete_count < lock_count`` and ``< target_count``; at the target the team turns complete
    and one ``trade_settlement`` notify task is written. A repeated or racing settlement of the same
    order changes nothing and answers the same success.
    """
    ctx = SettleContext()
    try:
        replayed = settle_chain.run(command, ctx)
        if replayed is not None:
            SETTLEMENTS.labels("replay").inc()
            return replayed
        with transaction.atomic():
            settled = _settle_write(command, ctx)
    except GroupBuyError as exc:
        SETTLEMENTS.labels(exc.code).inc()
        raise
    SETTLEMENTS.labels("settled" if settled else "replay").inc()
    return SettleResult.of(ctx.order)


def _settle_write(command: SettleCommand, ctx: SettleContext) -> bool:
    """False when a concurrent settlement of the same order got there first."""
    now = timezone.now()
    paid = Order.objects.filter(pk=ctx.order.pk, status=Order.Status.LOCKED).update(
        status=Order.Status.PAID, out_trade_time=command.out_trade_time, update_time=now
    )
    if not paid:
        current = Order.objects.get(pk=ctx.order.pk)
        if current.status == Order.Status.PAID:
            return False
        raise GroupBuyError(ResponseCode.E0104)  # refunded meanwhile
    counted = Team.objects.filter(
        pk=ctx.team.pk,
        status=Team.Status.IN_PROGRESS,
        complete_count__lt=F("lock_count"),
    ).update(complete_count=F("complete_count") + 1, update_time=now)
    if not counted:
        raise GroupBuyError(ResponseCode.UPDATE_ZERO, gettext("the team changed meanwhile, please retry"))
    team = Team.objects.get(pk=ctx.team.pk)
    if team.complete_count >= team.target_count:
        team_complete(team)
    return True


def team_complete(team: Team) -> None:
    """Inside the caller's transaction, with the team row current: the team is complete, and its one
    ``trade_settlement`` callback names its paid orders (settlement at the target, or auto-form at expiry).

    Every callback carries the team's ``source`` and ``channel``: consumers match orders by them too,
    never by ``outTradeNo`` alone (api.md "Channel isolation").
    """
    team.status = Team.Status.COMPLETE
    team.save(update_fields=["status", "update_time"])
    out_trade_nos = list(
        team.orders.filter(status=Order.Status.PAID)
        .order_by("out_trade_time", "id")
        .values_list("out_trade_no", flat=True)
    )
    _team_notify(
        team,
        category=NotifyTask.Category.TRADE_SETTLEMENT,
        payload={
            "source": team.source,
            "channel": team.channel,
            "teamId": team.team_id,
            "outTradeNoList": out_trade_nos,
        },
    )
    TEAMS_COMPLETED.inc()


def order_refund(*, source: str, channel: str, out_trade_no: str, user_id: str | None = None) -> RefundOutcome:
    """Give a seat (and, when paid, the money) back: the strategy follows (team status, order status).

    ``user_id`` None: staff or a timeout job acting for the user. A refunded order answers
    ``repeat`` and changes nothing. Locks the order, then its team (settlement's order), so a refund
    racing a settlement of the same order serializes: whichever commits first wins, the other sees
    the new state. Writes one ``topic.team_refund`` bus message (seat recovery, the built-in mall) and,
    for an HTTP team, the mall's HTTP callback.
    """
    order = Order.objects.filter(source=source, channel=channel, out_trade_no=out_trade_no).first()
    if order is None:
        raise GroupBuyError(ResponseCode.E0104)
    if user_id is not None and order.user_id != user_id:
        raise GroupBuyError(
            ResponseCode.ILLEGAL_PARAMETER, gettext("outTradeNo belongs to another user's order"),
            data={"outTradeNo": [gettext("belongs to another user")]},
        )  # fmt: skip
    for attempt in range(1, _DEADLOCK_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _refund_locked(order.pk)
        except OperationalError as exc:
            if exc.args and exc.args[0] in _RETRYABLE_DB_ERRORS and attempt < _DEADLOCK_ATTEMPTS:
                continue
            raise
    raise AssertionError("unreachable")


def _refund_locked(order_pk: int) -> RefundOutcome:
    order = Order.objects.select_for_update().get(pk=order_pk)
    team = Team.objects.select_for_update().get(team_id=order.team_id)
    if order.status == Order.Status.REFUNDED:
        REFUNDS.labels("repeat").inc()
        return RefundOutcome(order=order, team=team, strategy="", repeat=True)
    strategy = strategy_for(team, order)
    was_open = team.status == Team.Status.IN_PROGRESS
    strategy.apply(order, team)
    team.refresh_from_db()
    order.refresh_from_db()
    if was_open and team.status == Team.Status.FAILED:
        # Its last member left (apps.trade.refunds: an emptied team closes): off the goods pages now.
        TEAMS_FAILED.inc()
        key = joinable_teams_key(activity_id=team.activity_id, source=team.source, channel=team.channel)
        transaction.on_commit(lambda: cache_delete(key))
    payload = {
        "type": strategy.category,
        "source": order.source,
        "channel": order.channel,
        "userId": order.user_id,
        "teamId": team.team_id,
        "orderId": order.order_id,
        "outTradeNo": order.out_trade_no,
        "activityId": order.activity_id,
    }
    _team_notify(team, category=strategy.category, payload=payload, notify_type=NotifyType.MQ)
    if team.notify_type == NotifyType.HTTP:
        _team_notify(team, category=strategy.category, payload=payload)
    REFUNDS.labels(strategy.name).inc()
    return RefundOutcome(order=order, team=team, strategy=strategy.name, repeat=False)


def _team_notify(team: Team, *, category: str, payload: dict, notify_type: str | None = None) -> NotifyTask:
    """One outbox callback about ``team``, over its own notify type unless ``notify_type`` says otherwise."""
    notify_type = notify_type or team.notify_type
    return notify_task_create(
        activity_id=team.activity_id, team_id=team.team_id, source=team.source, channel=team.channel,
        category=category, payload=payload, notify_type=notify_type, notify_url=team.notify_url,
    )  # fmt: skip
