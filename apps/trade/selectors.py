"""Reads of teams for the product page: the user's own open team, joinable teams, statistics."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from apps.common.cache import cached
from apps.trade.models import Order, Team

OPEN_ORDER_STATUSES = (Order.Status.LOCKED, Order.Status.PAID)


@dataclass(frozen=True)
class TeamView:
    user_id: str
    team_id: str
    activity_id: int
    target_count: int
    complete_count: int
    lock_count: int
    valid_start_time: datetime
    valid_end_time: datetime
    out_trade_no: str | None
    mine: bool


@dataclass(frozen=True)
class TeamStatistic:
    all_team_count: int
    all_team_complete_count: int
    all_team_user_count: int


def open_teams_for_user(*, activity_id: int, user_id: str, others: int = 2) -> list[TeamView]:
    """The user's own open team(s) first, then up to ``others`` joinable teams ending soonest. One query."""
    now = timezone.now()
    my_orders = Order.objects.filter(team_id=OuterRef("team_id"), user_id=user_id, status__in=OPEN_ORDER_STATUSES)
    leader = Order.objects.filter(team_id=OuterRef("team_id")).order_by("id").values("user_id")[:1]
    rows = list(
        Team.objects.filter(activity_id=activity_id, status=Team.Status.IN_PROGRESS, valid_end_time__gt=now)
        .annotate(
            mine=Exists(my_orders),
            my_out_trade_no=Subquery(my_orders.values("out_trade_no")[:1]),
            leader_user_id=Subquery(leader),
        )
        .filter(Q(mine=True) | Q(lock_count__lt=F("target_count")))
        .order_by("-mine", "valid_end_time", "id")
        .values(
            "team_id", "target_count", "complete_count", "lock_count", "valid_start_time", "valid_end_time",
            "mine", "my_out_trade_no", "leader_user_id",
        )[: others + 1]
    )  # fmt: skip
    own = [r for r in rows if r["mine"]][:1]
    joinable = [r for r in rows if not r["mine"]][:others]
    return [
        TeamView(
            user_id=user_id if r["mine"] else (r["leader_user_id"] or ""),
            team_id=r["team_id"],
            activity_id=activity_id,
            target_count=r["target_count"],
            complete_count=r["complete_count"],
            lock_count=r["lock_count"],
            valid_start_time=r["valid_start_time"],
            valid_end_time=r["valid_end_time"],
            out_trade_no=r["my_out_trade_no"] if r["mine"] else None,
            mine=r["mine"],
        )
        for r in own + joinable
    ]


def team_statistic(*, activity_id: int) -> TeamStatistic:
    """Counts over the activity's teams; cached for a few seconds (it is a display figure)."""

    def load() -> TeamStatistic:
        totals = Team.objects.filter(activity_id=activity_id).aggregate(
            teams=Count("id"),
            complete=Count("id", filter=Q(status__in=[Team.Status.COMPLETE, Team.Status.COMPLETE_WITH_REFUND])),
            users=Sum("lock_count"),
        )
        return TeamStatistic(
            all_team_count=totals["teams"] or 0,
            all_team_complete_count=totals["complete"] or 0,
            all_team_user_count=totals["users"] or 0,
        )

    return cached(f"team_statistic:{activity_id}", load, ttl=5, namespace="team_statistic")


def countdown(valid_end_time: datetime, now: datetime | None = None) -> str:
    """ "HH:mm:ss" until the team expires (00:00:00 once past)."""
    seconds = max(0, int((valid_end_time - (now or timezone.now())).total_seconds()))
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def live_teams_for_stock() -> list[tuple[Team, list[str]]]:
    """Teams in progress with the out_trade_nos of their live orders (for rebuilding team stock)."""
    teams = list(Team.objects.filter(status=Team.Status.IN_PROGRESS).select_related("activity"))
    live: dict[str, list[str]] = {team.team_id: [] for team in teams}
    for team_id, out_trade_no in Order.objects.filter(
        team_id__in=list(live), status__in=OPEN_ORDER_STATUSES
    ).values_list("team_id", "out_trade_no"):
        live[team_id].append(out_trade_no)
    return [(team, live[team.team_id]) for team in teams]


def team_progress(*, team_id: str, source: str, channel: str) -> Team | None:
    """A team as one channel may see it: teams of other channels are not found."""
    return Team.objects.filter(team_id=team_id, source=source, channel=channel).first()
