"""Reads of teams for the product page: the user's own open team, joinable teams, the teams an auto-join tries,
statistics.

Every read is scoped by the calling channel (source, channel): a userId is that channel's own
namespace, and a team belongs to the channel that opened it (api.md "Channel isolation").
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from django.db import connection
from django.db.models import Count, F, Field, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from apps.common.cache import cached
from apps.common.rows import (
    Query,
    Read,
    model_field,
    quoted_column,
    values_of,
    values_where,
    values_where_together,
)
from apps.trade.models import LIVE_ORDER_STATUSES, Order, Team


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


def mask_user_id(user_id: str) -> str:
    """What others see of a member: "xiaofuge" → "xi***ge", "demo1" → "de***o1", "bob" → "b***b"."""
    if len(user_id) <= 2:
        return f"{user_id[:1]}***"
    if len(user_id) <= 4:
        return f"{user_id[0]}***{user_id[-1]}"
    return f"{user_id[:2]}***{user_id[-2:]}"


def _team_view(row: dict, *, activity_id: int, user_id: str, mine: bool, out_trade_no: str | None) -> TeamView:
    # Another shopper's team shows its leader masked (as the team page does): a user id is personal data.
    return TeamView(
        user_id=user_id if mine else mask_user_id(row.get("leader_user_id") or ""),
        team_id=row["team_id"],
        activity_id=activity_id,
        target_count=row["target_count"],
        complete_count=row["complete_count"],
        lock_count=row["lock_count"],
        valid_start_time=row["valid_start_time"],
        valid_end_time=row["valid_end_time"],
        out_trade_no=out_trade_no,
        mine=mine,
    )


_TEAM_FIELDS = ("team_id", "target_count", "complete_count", "lock_count", "valid_start_time", "valid_end_time")
_JOINABLE_CACHED = 8  # more than shown, so teams expiring or filling within the TTL still leave enough
JOINABLE_TTL_SECONDS = 2


def joinable_teams_key(*, activity_id: int, source: str, channel: str) -> str:
    """The cache key of ``joinable_teams`` (a closing team busts it: ``apps.trade.refund.order_refund``)."""
    return f"joinable_teams:{activity_id}:{source}:{channel}"


def joinable_teams(*, activity_id: int, source: str, channel: str) -> list[dict]:
    """The channel's open, unexpired, not-full teams of an activity, with their leader: the team closest
    to full first (fewest seats left), then the one ending soonest.

    Serves the goods page and the signed API's ``teamList`` alike (one order for every client: a joiner
    completes a team rather than spreading over many). Cached for two seconds and shared by every
    product-page request: a countdown list may be that stale; the lock itself checks the live row.
    """

    def load() -> list[dict]:
        leader = Order.objects.filter(team_id=OuterRef("team_id")).order_by("id").values("user_id")[:1]
        return list(
            _joinable(activity_id=activity_id, source=source, channel=channel)
            .annotate(leader_user_id=Subquery(leader), seats_left=F("target_count") - F("lock_count"))
            .order_by("seats_left", "valid_end_time", "id")
            .values(*_TEAM_FIELDS, "leader_user_id")[:_JOINABLE_CACHED]
        )

    return (
        cached(
            joinable_teams_key(activity_id=activity_id, source=source, channel=channel),
            load,
            ttl=JOINABLE_TTL_SECONDS,
            namespace="joinable_teams",
            local_ttl=1,
        )
        or []
    )


def _joinable(*, activity_id: int, source: str, channel: str) -> QuerySet[Team]:
    """The channel's teams of the activity that may take one more member now: in progress, unexpired, a seat left."""
    return Team.objects.filter(
        activity_id=activity_id,
        source=source,
        channel=channel,
        status=Team.Status.IN_PROGRESS,
        valid_end_time__gt=timezone.now(),
        lock_count__lt=F("target_count"),
    )


AUTO_JOIN_CANDIDATES = 3  # how many teams one auto-join tries before it opens a new team


def auto_join_candidates(
    *, activity_id: int, source: str, channel: str, user_id: str, limit: int = AUTO_JOIN_CANDIDATES
) -> list[str]:
    """The team ids an auto-join tries, best first: the channel's teams of the activity in progress, unexpired,
    with a seat left and no live (locked or paid) order of ``user_id``; the most locked seats first, then the
    earliest deadline (the team closest to full, the one that would expire soonest).

    One query, read fresh (not ``joinable_teams``' shared cache): the lock checks each team's row again anyway,
    and a stale pick costs the caller a fall-through to the next candidate.
    """
    own = Order.objects.filter(
        user_id=user_id, activity_id=activity_id, source=source, channel=channel, status__in=LIVE_ORDER_STATUSES
    ).values("team_id")
    return list(
        _joinable(activity_id=activity_id, source=source, channel=channel)
        .exclude(team_id__in=Subquery(own))
        .order_by("-lock_count", "valid_end_time", "id")
        .values_list("team_id", flat=True)[:limit]
    )


class OwnLiveTeam(NamedTuple):
    """A team the user holds a live (locked or paid) order in, with that order's outTradeNo."""

    team_id: str
    target_count: int
    complete_count: int
    lock_count: int
    valid_start_time: datetime
    valid_end_time: datetime
    status: int
    out_trade_no: str


_OWN_TEAM_FIELDS = (*_TEAM_FIELDS, "status")


@lru_cache(maxsize=1)
def _own_live_teams_sql() -> tuple[str, tuple[Field, ...]]:
    quote = connection.ops.quote_name
    o = {name: f"o.{quoted_column(model_field(Order, name))}" for name in
         ("team", "out_trade_no", "user_id", "activity", "source", "channel", "status")}  # fmt: skip
    t = {name: f"t.{quoted_column(model_field(Team, name))}" for name in (*_OWN_TEAM_FIELDS, "source", "channel")}
    statuses = ", ".join(str(int(status)) for status in LIVE_ORDER_STATUSES)
    sql = (
        f"SELECT {', '.join(t[name] for name in _OWN_TEAM_FIELDS)}, {o['out_trade_no']} "  # noqa: S608 - model names
        f"FROM {quote(Order._meta.db_table)} o JOIN {quote(Team._meta.db_table)} t ON {t['team_id']} = {o['team']} "
        f"WHERE {o['user_id']} = %s AND {o['activity']} = %s AND {o['source']} = %s AND {o['channel']} = %s "
        f"AND {o['status']} IN ({statuses}) AND {t['source']} = %s AND {t['channel']} = %s LIMIT 5"
    )
    fields = (*(model_field(Team, name) for name in _OWN_TEAM_FIELDS), model_field(Order, "out_trade_no"))
    return sql, fields


def own_live_teams(*, user_id: str, activity_id: int, source: str, channel: str) -> list[OwnLiveTeam]:
    """The teams of the channel's user's live orders in the activity (at most five), whatever their state.

    Runs on every product-page request: one join in plain SQL (``apps/common/rows.py``), since compiling the
    equivalent querysets cost more CPU than the query itself. Served by idx_order_user_activity, then the
    team's unique key.
    """
    sql, fields = _own_live_teams_sql()
    return [OwnLiveTeam(*row) for row in values_of(sql, [user_id, activity_id, source, channel, source, channel],
                                                    fields)]  # fmt: skip


def open_teams_for_user(
    *,
    activity_id: int,
    user_id: str,
    source: str,
    channel: str,
    others: int = 2,
    holds_no_open_team: bool = False,
) -> list[TeamView]:
    """The user's own open team first, then up to ``others`` joinable teams, closest to full first.

    One small indexed query for the user's own live orders with their teams (``own_live_teams``), skipped when
    the caller knows the user holds none in an open team (``holds_no_open_team``: ``apps.trade.own_teams``); the
    joinable list comes from a short shared cache.
    """
    now = timezone.now()
    views: list[TeamView] = []
    scope = {"source": source, "channel": channel}
    asked = user_id and not holds_no_open_team
    mine = own_live_teams(user_id=user_id, activity_id=activity_id, **scope) if asked else []
    my_team_ids = {team.team_id for team in mine}
    open_own = [team for team in mine if team.status == Team.Status.IN_PROGRESS and team.valid_end_time > now]
    if open_own:
        own = min(open_own, key=lambda team: team.valid_end_time)
        views.append(
            _team_view(own._asdict(), activity_id=activity_id, user_id=user_id, mine=True,
                       out_trade_no=own.out_trade_no)
        )  # fmt: skip
    for row in joinable_teams(activity_id=activity_id, **scope):
        if len(views) >= others + (1 if views and views[0].mine else 0):
            break
        if row["team_id"] in my_team_ids or row["valid_end_time"] <= now:
            continue
        views.append(_team_view(row, activity_id=activity_id, user_id=user_id, mine=False, out_trade_no=None))
    return views


def team_statistic(*, activity_id: int, source: str, channel: str) -> TeamStatistic:
    """Counts over the channel's teams of the activity; cached for a few seconds (it is a display figure)."""

    def load() -> TeamStatistic:
        totals = Team.objects.filter(activity_id=activity_id, source=source, channel=channel).aggregate(
            teams=Count("id"),
            complete=Count("id", filter=Q(status__in=[Team.Status.COMPLETE, Team.Status.COMPLETE_WITH_REFUND])),
            users=Sum("lock_count"),
        )
        return TeamStatistic(
            all_team_count=totals["teams"] or 0,
            all_team_complete_count=totals["complete"] or 0,
            all_team_user_count=totals["users"] or 0,
        )

    return cached(
        f"team_statistic:{activity_id}:{source}:{channel}", load, ttl=5, namespace="team_statistic", local_ttl=2
    )


def countdown(valid_end_time: datetime, now: datetime | None = None) -> str:
    """ "HH:mm:ss" until the team expires (00:00:00 once past)."""
    seconds = max(0, int((valid_end_time - (now or timezone.now())).total_seconds()))
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def live_teams_for_stock() -> list[tuple[Team, list[str]]]:
    """Teams in progress with the out_trade_nos of their live orders (for rebuilding team stock)."""
    teams = list(Team.objects.filter(status=Team.Status.IN_PROGRESS).select_related("activity"))
    live: dict[str, list[str]] = {team.team_id: [] for team in teams}
    for team_id, out_trade_no in Order.objects.filter(
        team_id__in=list(live), status__in=LIVE_ORDER_STATUSES
    ).values_list("team__team_id", "out_trade_no"):  # team_id's column, typed as the team's id (no join)
        live[team_id].append(out_trade_no)
    return [(team, live[team.team_id]) for team in teams]


def team_progress(*, team_id: str, source: str, channel: str) -> Team | None:
    """A team as one channel may see it: teams of other channels are not found."""
    return Team.objects.filter(team_id=team_id, source=source, channel=channel).first()


def paid_order_user_ids(*, start: datetime, end: datetime, min_paid_orders: int) -> list[str]:
    """Distinct users with at least ``min_paid_orders`` PAID orders paid in ``[start, end)``, sorted
    (crowd tags' trading history). One GROUP BY ... HAVING query: the database does the counting.
    """
    return list(
        Order.objects.filter(status=Order.Status.PAID, out_trade_time__gte=start, out_trade_time__lt=end)
        .values("user_id")
        .annotate(paid_orders=Count("pk"))
        .filter(paid_orders__gte=min_paid_orders)
        .order_by("user_id")
        .values_list("user_id", flat=True)
    )


def user_paid_before(*, source: str, channel: str, user_id: str) -> bool:
    """Whether the channel's user has any group-buy order that was ever paid (a payment time), refunded or not:
    who is not a new customer (``apps.activities.customers``). One ``SELECT ... LIMIT 1`` led by
    idx_order_user_activity's user_id."""
    return Order.objects.filter(user_id=user_id, source=source, channel=channel, out_trade_time__isnull=False).exists()


# --- an activity's team limit (apps/trade/limits.py) -----------------------------------------------------

# A formed team: completed (by its last payment or auto-formed at its deadline), also after refunds since.
FORMED = Q(status__in=[Team.Status.COMPLETE, Team.Status.COMPLETE_WITH_REFUND]) | Q(formed_at__isnull=False)
# A team holding one of its activity's formation slots: open, or formed.
HOLDS_FORMATION_SLOT = Q(status=Team.Status.IN_PROGRESS) | FORMED


@dataclass(frozen=True)
class FormationQuotaView:
    """An activity's team limit as shoppers see it (``Activity.max_teams_formed``)."""

    limit: int
    open: int  # teams in progress (each holds a slot it gives back if it fails)
    formed: int

    @property
    def sold_out(self) -> bool:
        """Every team that may form has formed: nothing left to open or join."""
        return self.formed >= self.limit

    @property
    def teams_left(self) -> int:
        """New teams that may still open (0: join an open team, if any)."""
        return max(0, self.limit - self.open - self.formed)


FORMATION_QUOTA_TTL_SECONDS = 2


def formation_quota_key(*, activity_id: int, limit: int) -> str:
    return f"formation_quota:{activity_id}:{limit}"


def formation_quota(*, activity_id: int, limit: int) -> FormationQuotaView:
    """Open and formed teams of a limited activity, counted from the teams in one aggregate and cached for two
    seconds (a display figure: the lock's own guard is the quota row, ``apps.trade.limits``). Only asked for
    activities with a limit, so an unlimited offer's product page costs no query more."""

    def load() -> FormationQuotaView:
        totals = Team.objects.filter(HOLDS_FORMATION_SLOT, activity_id=activity_id).aggregate(
            open=Count("id", filter=Q(status=Team.Status.IN_PROGRESS)), formed=Count("id", filter=FORMED)
        )
        return FormationQuotaView(limit=limit, open=totals["open"] or 0, formed=totals["formed"] or 0)

    return cached(
        formation_quota_key(activity_id=activity_id, limit=limit),
        load,
        ttl=FORMATION_QUOTA_TTL_SECONDS,
        namespace="formation_quota",
        local_ttl=1,
    )


# --- the lock's reads (apps/trade/lock.py): tuples, no model instances ------------------------------------


class LockedOrder(NamedTuple):
    """An order as the lock answers it; a retry of its outTradeNo gets the same answer."""

    order_id: str
    user_id: str
    team_id: str
    status: int
    biz_id: str
    original_price: Decimal
    deduction_price: Decimal
    pay_price: Decimal


_LOCKED_ORDER = ("order_id", "user_id", "team", "status", "biz_id", "original_price", "deduction_price", "pay_price")


class TeamSeats(NamedTuple):
    """What a join needs of a team: whose it is, and whether it can take one more member."""

    team_id: str
    activity_id: int
    status: int
    lock_count: int
    target_count: int
    valid_end_time: datetime


_TEAM_SEATS = ("team_id", "activity", "status", "lock_count", "target_count", "valid_end_time")


@dataclass(frozen=True)
class LockReads:
    existing: LockedOrder | None  # the channel's order of this outTradeNo
    live_biz_ids: frozenset[str]  # the take slots of the channel's user's live orders in the activity
    team: TeamSeats | None = None  # a join's team, when it is the channel's


def lock_reads(
    *, source: str, channel: str, out_trade_no: str, user_id: str, activity_id: int, team_id: str | None = None
) -> LockReads:
    """The lock's reads in one round trip on MariaDB, each on its own unique key or index: the order of this
    outTradeNo (idempotency, uniq_order_out_trade_no), the user's live orders (take limit,
    idx_order_user_activity) and, for a join, the channel's team ``team_id`` (its unique key)."""
    scope = {"source": source, "channel": channel}
    existing, live, *team = values_where_together(
        Read(Order, _LOCKED_ORDER, {**scope, "out_trade_no": out_trade_no}),
        Read(Order, _LOCKED_ORDER, {"user_id": user_id, "activity": activity_id, **scope,
                                    "status": LIVE_ORDER_STATUSES}),
        *([Read(Team, _TEAM_SEATS, {"team_id": team_id, **scope})] if team_id else []),
    )  # fmt: skip
    return LockReads(
        existing=LockedOrder(*existing[0]) if existing else None,
        live_biz_ids=frozenset(LockedOrder(*row).biz_id for row in live),
        team=TeamSeats(*team[0][0]) if team and team[0] else None,
    )


def locked_order(*, source: str, channel: str, out_trade_no: str) -> LockedOrder | None:
    """The channel's order of ``out_trade_no`` (a twin's, after a lock lost a race to it)."""
    rows = values_where(Order, _LOCKED_ORDER, source=source, channel=channel, out_trade_no=out_trade_no)
    return LockedOrder(*rows[0]) if rows else None


def team_seats(*, team_id: str, source: str, channel: str) -> TeamSeats | None:
    """The channel's team ``team_id`` (another channel's team is not found)."""
    rows = values_where(Team, _TEAM_SEATS, team_id=team_id, source=source, channel=channel)
    return TeamSeats(*rows[0]) if rows else None


# --- settle's read (apps/trade/settle.py) -----------------------------------------------------------------


class SettleTeam(NamedTuple):
    """The team of an order being settled: its seats, its window, and where its callback goes."""

    pk: int
    team_id: str
    activity_id: int
    source: str
    channel: str
    status: int
    complete_count: int
    target_count: int
    valid_end_time: datetime
    notify_type: str
    notify_url: str


class SettleOrder(NamedTuple):
    pk: int
    user_id: str
    status: int
    activity_id: int
    out_trade_no: str
    team: SettleTeam


_SETTLE_ORDER_FIELDS = ("id", "user_id", "status", "activity", "out_trade_no")
_SETTLE_TEAM_FIELDS = ("id", "team_id", "activity", "source", "channel", "status", "complete_count", "target_count",
                       "valid_end_time", "notify_type", "notify_url")  # fmt: skip


@lru_cache(maxsize=1)
def _settle_order_sql() -> tuple[str, tuple[Field, ...]]:
    quote = connection.ops.quote_name
    o = {name: f"o.{quoted_column(model_field(Order, name))}" for name in
         (*_SETTLE_ORDER_FIELDS, "team", "source", "channel")}  # fmt: skip
    t = {name: f"t.{quoted_column(model_field(Team, name))}" for name in _SETTLE_TEAM_FIELDS}
    selected = [o[name] for name in _SETTLE_ORDER_FIELDS] + [t[name] for name in _SETTLE_TEAM_FIELDS]
    sql = (
        f"SELECT {', '.join(selected)} FROM {quote(Order._meta.db_table)} o "  # noqa: S608 - model names
        f"JOIN {quote(Team._meta.db_table)} t ON {t['team_id']} = {o['team']} "
        f"WHERE {o['source']} = %s AND {o['channel']} = %s AND {o['out_trade_no']} = %s"
    )
    fields = (*(model_field(Order, name) for name in _SETTLE_ORDER_FIELDS),
              *(model_field(Team, name) for name in _SETTLE_TEAM_FIELDS))  # fmt: skip
    return sql, fields


def settle_order_query(*, source: str, channel: str, out_trade_no: str) -> Query:
    """The channel's order of ``out_trade_no`` with its team, in one join on uniq_order_out_trade_no (plain SQL,
    ``apps/common/rows.py``: settle runs it on every payment notification, after its writes)."""
    sql, fields = _settle_order_sql()
    return Query(sql, [source, channel, out_trade_no], fields)


def settle_order_of(rows: list[tuple]) -> SettleOrder | None:
    """``settle_order_query``'s answer."""
    if not rows:
        return None
    row = rows[0]
    split = len(_SETTLE_ORDER_FIELDS)
    return SettleOrder._make((*row[:split], SettleTeam._make(row[split:])))
