"""Refund (退单): one strategy per (team status, order status), found through a registry.

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
(``apps.trade.selectors`` shows only teams in progress) nor joined (``TeamJoinable`` answers E0005 "the
team has closed", and the lock's conditional UPDATE requires a team in progress); its recovered seats
are not offered again (``apps.trade.consumers``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from apps.common.errors import GroupBuyError, ResponseCode
from apps.notifications.models import NotifyTask
from apps.trade.models import Order, Team

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


class RefundStrategy:
    name: str
    category: str
    recovers_seat: bool
    returns_money: bool

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


def _register(*pairs: tuple[int, int]):
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
    recovers_seat = True
    returns_money = False


@_register((IN_PROGRESS, PAID), (FAILED, PAID))
class PaidUnformed(RefundStrategy):
    name = "paid_unformed"
    category = NotifyTask.Category.TRADE_PAID2REFUND
    recovers_seat = True
    returns_money = True


@_register((COMPLETE, PAID), (COMPLETE_WITH_REFUND, PAID))
class PaidFormed(RefundStrategy):
    name = "paid_formed"
    category = NotifyTask.Category.TRADE_PAID_TEAM2REFUND
    recovers_seat = False  # a formed team takes nobody new
    returns_money = True

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
