"""Refund (退单): give a seat (and, when paid, the money) back, read top-down from ``order_refund`` to the write.

    order of the channel (and of the user) → (refunded already? ``repeat``) → lock order, then team
    → the strategy of (team status, order status) writes → bus message (+ the mall's HTTP callback)

One strategy per (team status, order status), found through a registry:

| strategy        | team                | order  | effect                                                   |
|-----------------|---------------------|--------|----------------------------------------------------------|
| unpaid_unlock   | in progress, failed | locked | order closed, lock_count - 1; an emptied team closes     |
| paid_unformed   | in progress, failed | paid   | as above, complete_count - 1; an emptied team closes     |
| paid_formed     | complete(+refund)   | paid   | as above, team → complete-with-refund (failed if no payer |
|                 |                     |        | remains)                                                 |

A complete team cannot hold a locked order (it completed because every seat paid): that pair, and
any other unknown pair, is refused with E0104. Each strategy is one transaction that also writes
its notify task; the seat of an unformed team is recovered when the team_refund message is
consumed (``apps.trade.consumers``). A refund renames the order's ``biz_id`` so the user's take
slot is free again.

An unformed team whose last live (locked or paid) order goes is closed: status FAILED, in the same
transaction as that refund. Otherwise it would stay listed as "0/3, join" with no leader, and a joiner
would open nothing but an orphan seat. FAILED (not a new state) because that is what it is to the
shopper and to every consumer: a team that did not form. A closed team is never listed
(``apps.trade.selectors`` shows only teams in progress) nor joined (``apps.trade.lock`` answers E0005 "the
team has closed", and the lock's conditional UPDATE requires a team in progress); its recovered seats
are not offered again (``apps.trade.consumers``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from apps.common.cache import cache_delete_on_commit
from apps.common.db import retry_on_deadlock
from apps.common.db_routing import primary_reads
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.metrics import counter_labels_init
from apps.notifications.models import NotifyTask
from apps.trade.callbacks import team_notify
from apps.trade.limits import formation_slot_release
from apps.trade.metrics import REFUNDS, TEAMS_FAILED
from apps.trade.models import NotifyType, Order, Team
from apps.trade.selectors import joinable_teams_key

IN_PROGRESS, COMPLETE, FAILED, COMPLETE_WITH_REFUND = (
    Team.Status.IN_PROGRESS,
    Team.Status.COMPLETE,
    Team.Status.FAILED,
    Team.Status.COMPLETE_WITH_REFUND,
)
LOCKED, PAID = Order.Status.LOCKED, Order.Status.PAID


@dataclass(frozen=True)
class RefundOutcome:
    order: Order
    team: Team
    strategy: str  # "" for a repeat
    repeat: bool


@primary_reads()  # its reads never come from a replica (apps/common/db_routing.py)
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
    return retry_on_deadlock(lambda: _refund_locked(order.pk))


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
        # Its last member left (an emptied team closes, module docstring): off the goods pages now.
        TEAMS_FAILED.inc()
        formation_slot_release(activity_id=team.activity_id)  # it never formed: its slot goes back
        key = joinable_teams_key(activity_id=team.activity_id, source=team.source, channel=team.channel)
        cache_delete_on_commit(key)
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
    team_notify(team, category=strategy.category, payload=payload, notify_type=NotifyType.MQ)
    if team.notify_type == NotifyType.HTTP:
        team_notify(team, category=strategy.category, payload=payload)
    REFUNDS.labels(strategy.name).inc()
    return RefundOutcome(order=order, team=team, strategy=strategy.name, repeat=False)


# --- the strategies: the write of each kind of refund ------------------------------------------------


class RefundStrategy:
    name: str
    category: str

    def apply(self, order: Order, team: Team) -> None:
        """Inside the caller's transaction: close the order, fix the team's counts (guarded)."""
        now = timezone.now()
        closed = Order.objects.filter(pk=order.pk, status=order.status).update(
            status=Order.Status.REFUNDED, biz_id=f"{order.biz_id}_refund_{order.order_id}"[:128], update_time=now
        )
        if not closed:
            raise GroupBuyError(ResponseCode.UPDATE_ZERO, gettext("the order changed meanwhile, please retry"))
        counts = {"lock_count": F("lock_count") - 1, "update_time": now}
        guard = {"lock_count__gt": 0}
        if order.status == PAID:
            counts["complete_count"] = F("complete_count") - 1
            guard["complete_count__gt"] = 0
        if not Team.objects.filter(pk=team.pk, **guard).update(**counts):
            raise GroupBuyError(ResponseCode.UPDATE_ZERO, gettext("the team changed meanwhile, please retry"))
        self.after_counts(team)

    def after_counts(self, team: Team) -> None:
        """Team status changes of this kind of refund: an unformed team closes when nobody is left in it."""
        Team.objects.filter(pk=team.pk, status=IN_PROGRESS, lock_count=0).update(
            status=FAILED, update_time=timezone.now()
        )


refund_strategies: dict[tuple[int, int], RefundStrategy] = {}


def _register(*pairs: tuple[int, int]) -> Callable[[type[RefundStrategy]], type[RefundStrategy]]:
    def decorator(cls: type[RefundStrategy]) -> type[RefundStrategy]:
        instance = cls()
        for pair in pairs:
            refund_strategies[pair] = instance
        return cls

    return decorator


@_register((IN_PROGRESS, LOCKED), (FAILED, LOCKED))
class UnpaidUnlock(RefundStrategy):
    name = "unpaid_unlock"
    category = NotifyTask.Category.TRADE_UNPAID2REFUND


@_register((IN_PROGRESS, PAID), (FAILED, PAID))
class PaidUnformed(RefundStrategy):
    name = "paid_unformed"
    category = NotifyTask.Category.TRADE_PAID2REFUND


@_register((COMPLETE, PAID), (COMPLETE_WITH_REFUND, PAID))
class PaidFormed(RefundStrategy):
    name = "paid_formed"
    category = NotifyTask.Category.TRADE_PAID_TEAM2REFUND

    def after_counts(self, team: Team) -> None:
        current = Team.objects.get(pk=team.pk)
        current.status = COMPLETE_WITH_REFUND if current.complete_count > 0 else FAILED
        current.save(update_fields=["status", "update_time"])


def strategy_for(team: Team, order: Order) -> RefundStrategy:
    strategy = refund_strategies.get((team.status, order.status))
    if strategy is None:
        raise GroupBuyError(
            ResponseCode.E0104,
            gettext("no refund for an order in state %(order)s of a team in state %(team)s")
            % {"order": order.status, "team": team.status},
        )
    return strategy


counter_labels_init(REFUNDS, (*sorted({strategy.name for strategy in refund_strategies.values()}), "repeat"))
