"""Reads of the mall: my orders (each with its display state, ``order_states``), an order's pay deadline, a
team's share view, a shopper's takes left.

The team share page is public (a shared link opens a preview for visitors who are not logged in):
it shows only teams of the mall's own channel, members masked, and no order ids; what is the
viewer's own (their seat, their refund) is looked up by the logged-in user only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from apps.accounts.models import User
from apps.activities.selectors import activity_config, sku_config
from apps.common.rows import values_where
from apps.dcc.runtime import dcc_get
from apps.payments.models import PayOrder, RefundRecord, SandboxTrade
from apps.payments.order_states import OrderView, order_view
from apps.trade.models import LIVE_ORDER_STATUSES, Order, Team
from apps.trade.selectors import countdown, mask_user_id, team_progress, user_paid_before

UNPAID_STATUSES = (PayOrder.Status.CREATE, PayOrder.Status.PAY_WAIT)


def team_end_subquery() -> Subquery:
    return Subquery(Team.objects.filter(team_id=OuterRef("team_id")).values("valid_end_time")[:1])


def mall_order_pay_deadline(*, order: PayOrder) -> datetime:
    """Pay before this: ``order_time + lockTimeoutMinutes`` (DCC), or the team's end if sooner.

    Uses ``order.team_end`` when the queryset annotated it (no extra query per row).
    """
    deadline = order.order_time + timedelta(minutes=dcc_get("lockTimeoutMinutes"))
    team_end: datetime | None
    if "team_end" in vars(order):  # the queryset's annotation (None too: the team is gone)
        team_end = vars(order)["team_end"]
    elif order.team_id:
        team_end = Team.objects.filter(team_id=order.team_id).values_list("valid_end_time", flat=True).first()
    else:
        team_end = None
    return min(deadline, team_end) if team_end else deadline


def mall_orders_of(*, user: User) -> QuerySet[PayOrder]:
    """The user's orders, newest first, each with its team's end (for the deadline).

    Attempts the lock refused (CLOSE with a ``market_code``) are left out: the shopper saw the
    refusal and never got that order (staff still see them in admin).
    """
    return (
        PayOrder.objects.filter(user=user)
        .exclude(status=PayOrder.Status.CLOSE, market_code__gt="")
        .annotate(team_end=team_end_subquery())
        .order_by("-order_time", "-id")
    )


def mall_order_of(*, user: User, order_id: str) -> PayOrder | None:
    """One of the user's orders; another user's order is not found."""
    return mall_orders_of(user=user).filter(order_id=order_id).first()


def mall_order_views(*, user: User, limit: int) -> list[OrderView]:
    """The user's newest orders, each with its display state: three queries whatever the count (orders,
    their group-buy seats with teams, their refund records), scoped by the user's own order ids."""
    orders = list(mall_orders_of(user=user)[:limit])
    return _views(orders, now=timezone.now())


def mall_order_view(*, user: User, order_id: str, paid_at_gateway: bool = False) -> OrderView | None:
    """One of the user's orders with its display state; another user's order is not found."""
    order = mall_order_of(user=user, order_id=order_id)
    if order is None:
        return None
    return _views([order], now=timezone.now(), paid_at_gateway=paid_at_gateway)[0]


def _views(orders: list[PayOrder], *, now: datetime, paid_at_gateway: bool = False) -> list[OrderView]:
    ids = [order.order_id for order in orders]
    seats = {
        seat.out_trade_no: seat
        for seat in Order.objects.filter(
            source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL, out_trade_no__in=ids
        ).select_related("team")
    }
    refunds = {record.pay_order_id: record for record in RefundRecord.objects.filter(pay_order__order_id__in=ids)}
    return [
        order_view(
            order=order,
            seat=seats.get(order.order_id),
            refund=refunds.get(order.order_id),
            pay_deadline=mall_order_pay_deadline(order=order),
            paid_at_gateway=paid_at_gateway,
            now=now,
        )
        for order in orders
    ]


def mall_order_joined_a_team(*, order: PayOrder) -> bool:
    """The order's seat is in a team someone else opened (it is not the team's first order): what an auto-join
    answers, the same for a retry of it."""
    if not order.team_id:
        return False
    first = (
        Order.objects.filter(team_id=order.team_id, source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL)
        .order_by("id")
        .values_list("out_trade_no", flat=True)
        .first()
    )
    return first is not None and first != order.order_id


def sandbox_trade_of(*, order_id: str) -> SandboxTrade | None:
    return SandboxTrade.objects.filter(out_trade_no=order_id).first()


def mall_takes_left(*, user: User | AnonymousUser | None, activity_id: int, take_limit_count: int) -> int | None:
    """How many more seats the shopper may take in the activity on the mall's channel (None: anonymous).

    Counts live (locked or paid) orders as the lock's take-limit link does (``apps/trade/lock.py``).
    """
    if user is None or not user.is_authenticated:
        return None
    live = values_where(
        Order, ("biz_id",), user_id=user.get_username(), activity=activity_id,
        source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL, status=LIVE_ORDER_STATUSES,
    )  # fmt: skip
    return max(0, take_limit_count - len({biz_id for (biz_id,) in live}))


@dataclass(frozen=True)
class TeamMember:
    masked_user_id: str
    leader: bool
    paid: bool
    mine: bool

    @property
    def initial(self) -> str:
        return self.masked_user_id[:1].upper() or "?"


@dataclass(frozen=True)
class ViewerRefund:
    amount: Decimal
    refunded_at: datetime | None  # None: on its way back


class TeamState:
    """The share page's words per state: waiting for seats, ended (past its deadline, not closed yet),
    complete, failed (every payment refunded)."""

    WAITING = "waiting"
    ENDED = "ended"
    COMPLETE = "complete"
    FAILED = "failed"


@dataclass(frozen=True)
class TeamShare:
    team: Team
    goods_id: str
    goods_name: str
    description: str
    image_url: str
    original_price: Decimal
    pay_price: Decimal
    members: list[TeamMember]
    viewer_in_team: bool
    # None: an anonymous visitor (or the activity's configuration is gone).
    viewer_takes_left: int | None = None
    viewer_refund: ViewerRefund | None = None
    # The team's activity lets only new customers join and the viewer has paid before (decision 014).
    viewer_not_new: bool = False

    @property
    def state(self) -> str:
        team = self.team
        if team.status in (Team.Status.COMPLETE, Team.Status.COMPLETE_WITH_REFUND):
            return TeamState.COMPLETE
        if team.status == Team.Status.FAILED:
            return TeamState.FAILED
        return TeamState.WAITING if team.valid_end_time > timezone.now() else TeamState.ENDED

    @property
    def joinable(self) -> bool:
        return self.state == TeamState.WAITING and self.team.lock_count < self.team.target_count

    @property
    def can_join(self) -> bool:
        return self.joinable and not self.viewer_in_team and self.viewer_takes_left != 0 and not self.viewer_not_new

    @property
    def new_customers_only_refused(self) -> bool:
        """The viewer could join but for the activity's new-customers-only rule: the page says so."""
        return self.joinable and not self.viewer_in_team and self.viewer_not_new

    @property
    def take_limit_used_up(self) -> bool:
        return self.joinable and not self.viewer_in_team and self.viewer_takes_left == 0

    @property
    def seats_left(self) -> int:
        return max(0, self.team.target_count - self.team.lock_count)

    @property
    def empty_slots(self) -> range:
        """The "?" seats still to fill (none once the team is decided)."""
        if self.state != TeamState.WAITING:
            return range(0)
        return range(max(0, self.team.target_count - len(self.members)))

    @property
    def virtual_slots(self) -> range:
        """The seats the platform filled when the team formed at its deadline (never a shopper's)."""
        return range(self.team.virtual_count)

    @property
    def joined_count(self) -> int:
        """Shoppers' seats: those taken now, or for a failed team those taken when it ran out of time (its
        ``lock_count`` has fallen with each refund since)."""
        return len(self.members) if self.state == TeamState.FAILED else self.team.lock_count

    @property
    def progress_percent(self) -> int:
        taken = self.joined_count + self.team.virtual_count
        return min(100, taken * 100 // max(1, self.team.target_count))

    @property
    def countdown(self) -> str:
        return countdown(self.team.valid_end_time)


def team_share(*, team_id: str, user: User | AnonymousUser | None) -> TeamShare | None:
    """A mall team as its share page shows it: members masked, the viewer's own place marked.

    Anyone may read it (``user`` anonymous: a preview); only the mall's own channel's teams are found.
    """
    team = team_progress(team_id=team_id, source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL)
    if team is None:
        return None
    # sku__goods_id, not sku_id: the same column without a join, typed as the goods id it holds.
    orders = list(
        Order.objects.filter(team=team)
        .order_by("id")
        .values("user_id", "status", "sku__goods_id", "out_trade_time", "update_time")
    )
    if not orders:
        return None
    shopper = user if user is not None and user.is_authenticated else None
    viewer = shopper.get_username() if shopper else None
    leader = orders[0]["user_id"]
    live = [o for o in orders if o["status"] in LIVE_ORDER_STATUSES]
    goods_id = orders[0]["sku__goods_id"]
    sku = sku_config(goods_id=goods_id)
    activity = activity_config(activity_id=team.activity_id)
    takes_left = (
        mall_takes_left(user=shopper, activity_id=team.activity_id, take_limit_count=activity.take_limit_count)
        if viewer and activity
        else None
    )
    viewer_in_team = any(o["user_id"] == viewer for o in live)
    viewer_not_new = bool(
        viewer and activity and activity.new_customers_only and not viewer_in_team
        and team.status == Team.Status.IN_PROGRESS
        and user_paid_before(source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL, user_id=viewer)
    )  # fmt: skip
    return TeamShare(
        team=team,
        goods_id=goods_id,
        goods_name=sku.goods_name if sku else goods_id,
        description=sku.description if sku else "",
        image_url=sku.image_url if sku else "",
        original_price=team.original_price,
        pay_price=team.pay_price,
        members=[
            TeamMember(
                masked_user_id=mask_user_id(o["user_id"]),
                leader=o["user_id"] == leader,
                paid=o["out_trade_time"] is not None,  # a refunded member paid if the mall reported the payment
                mine=o["user_id"] == viewer,
            )
            for o in _members_shown(team, orders, live)
        ],
        viewer_in_team=viewer_in_team,
        viewer_not_new=viewer_not_new,
        viewer_takes_left=takes_left,
        viewer_refund=(
            _viewer_refund(team=team, user=shopper)
            if shopper and viewer and team.status == Team.Status.FAILED
            else None
        ),
    )


def _members_shown(
    team: Team, orders: Sequence[Mapping[str, Any]], live: Sequence[Mapping[str, Any]]
) -> Sequence[Mapping[str, Any]]:
    """The seats the page shows: the live ones; for a failed team, whoever still held a seat at its deadline
    (refunded since, by the job that closed it), so the page shows who was in the team rather than an empty
    team. A team that failed because its last member left before the deadline shows nobody: everyone left."""
    if team.status != Team.Status.FAILED:
        return live
    return [o for o in orders if o["status"] in LIVE_ORDER_STATUSES or o["update_time"] >= team.valid_end_time]


def _viewer_refund(*, team: Team, user: User) -> ViewerRefund | None:
    """The viewer's own paid order of a failed team: how much comes back, and when it did."""
    order = (
        PayOrder.objects.filter(user=user, team_id=team.team_id, trade_no__gt="")
        .order_by("-id")
        .values("order_id", "pay_amount")
        .first()
    )
    if order is None:
        return None
    record = (
        RefundRecord.objects.filter(pay_order__order_id=order["order_id"], status=RefundRecord.Status.SUCCESS)
        .values("amount", "refunded_at")
        .first()
    )
    if record is None:
        return ViewerRefund(amount=order["pay_amount"], refunded_at=None)
    return ViewerRefund(amount=record["amount"], refunded_at=record["refunded_at"])
