"""Lock order (锁单): take a seat in a team, read top-down from ``order_lock`` to the write.

    already locked? the same answer → callback target allowed → team joinable → trial allows
    → activity open → take limit → (a join) a Redis seat → one transaction: team + order
      + the operators' limits where set (``apps.trade.limits``: a formation slot for a new team, E0108; the
      user's take of the day on the channel, E0109)

Each check rejects with the spec's code (domain.md section 4). A team that cannot take one more member
answers the same code whichever guard finds it (``_join_refusal``): full or formed → E0006 "team already
full", from the team check, the Redis seat script and the database's ``lock_count < target_count`` guard
alike; closed (FAILED) or expired → E0005. E0008 "no team stock left" is no longer answered by a lock:
a join refused by the Redis seat count is a full team to the caller, whatever cache said so.

Growth settings (issue 17, docs/decisions/014-leader-offer-and-new-customer-teams.md): opening a team charges the
trial's leader price when the activity has a leader offer, joining charges the joiner's; the team row keeps the
joiner's prices (what the team offers whoever joins it). A joiner of a new-customers-only activity who has paid
before is refused with E0107 by the trial's customer node (one query, on joins of such activities only).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from django.db import IntegrityError
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from apps.activities.selectors import ActivityConfig
from apps.activities.trial import Intent, TrialRequest, TrialResult, trial_calculate
from apps.channels.authentication import PendingNonce
from apps.channels.notify_targets import notify_url_refusal
from apps.channels.selectors import channel_credential_get
from apps.common.db_routing import primary_reads
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.rows import Written, insert_statement, rows_write_together, update_statement
from apps.trade.ids import ID_ATTEMPTS, new_order_id, new_team_id
from apps.trade.limits import lock_limits
from apps.trade.metrics import LOCKS, counted
from apps.trade.models import NotifyType, Order, Team
from apps.trade.own_teams import OwnTeamsMarker, own_teams_mark, own_teams_marker
from apps.trade.selectors import LockedOrder, TeamSeats, lock_reads, locked_order, team_seats
from apps.trade.team_stock import Occupation, team_seat_occupy, team_seat_release

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LockCommand:
    user_id: str
    source: str
    channel: str
    goods_id: str
    activity_id: int
    out_trade_no: str
    team_id: str | None = None
    notify_type: str = NotifyType.MQ
    notify_url: str = ""


@dataclass(frozen=True)
class LockResult:
    order_id: str
    team_id: str
    original_price: Decimal
    deduction_price: Decimal
    pay_price: Decimal
    status: int

    @classmethod
    def of(cls, order: LockedOrder) -> LockResult:
        return cls(
            order_id=order.order_id,
            team_id=order.team_id,
            original_price=order.original_price,
            deduction_price=order.deduction_price,
            pay_price=order.pay_price,
            status=order.status,
        )


@primary_reads()  # its reads never come from a replica (apps/common/db_routing.py)
def order_lock(*, command: LockCommand, nonce: PendingNonce | None = None) -> LockResult:
    """Lock a seat for ``command``: open a new team or join ``command.team_id``.

    Idempotent on (source, channel, out_trade_no): a retry returns the same order, also when retries race
    each other — a retry refused because its twin just won (take limit, unique keys) looks again and answers
    with the twin's order. A join first occupies a Redis seat; a failure gives the seat back unless an order
    of this outTradeNo holds it. The database's ``lock_count < target_count`` guard is the last word.

    ``nonce``: the signed call's, not recorded yet. It is recorded with the lock's first Redis write (the join's
    seat, the opener's own-teams marker: one round trip on a single Redis), always before the transaction; a
    replay answers E0202, whatever else the call would have answered.
    """
    try:
        return counted(LOCKS, partial(_lock, command, nonce))
    finally:
        if nonce is not None and not nonce.recorded:
            nonce.record()  # a refusal or a replayed answer: nothing was written


def _lock(command: LockCommand, nonce: PendingNonce | None) -> tuple[LockResult, str]:
    reads = lock_reads(
        source=command.source, channel=command.channel, out_trade_no=command.out_trade_no,
        user_id=command.user_id, activity_id=command.activity_id, team_id=command.team_id,
    )  # fmt: skip
    if reads.existing is not None:
        return _replay(reads.existing, command), "replay"
    seat_team: TeamSeats | None = None  # the team whose Redis seat this call took (and must give back on failure)
    try:
        _check_notify_target(command)
        team = _joinable_team(command, reads.team)
        trial = _trial(command)
        _check_activity_open(trial.activity)
        biz_id = _take_slot(command, trial.activity, reads.live_biz_ids)
        marker = own_teams_marker(source=command.source, channel=command.channel, user_id=command.user_id,
                                  valid_minutes=trial.activity.valid_time)  # fmt: skip
        if marker is None and nonce is not None:
            nonce.record()  # a cluster: the nonce's slot is not the seat's
            nonce = None
        if team is None:
            if marker is not None:
                own_teams_mark(marker, nonce=nonce)
        elif _occupy_seat(command, team, trial.activity, marker=marker, nonce=nonce):
            seat_team = team
        result = _write_drawing_ids(command, team=team, trial=trial, biz_id=biz_id)
    except (GroupBuyError, IntegrityError) as exc:
        if isinstance(exc, GroupBuyError) and exc.response_code is ResponseCode.E0202:
            raise  # a replayed call took no seat and wrote nothing; it learns nothing either
        winner = _winner_after_failure(command, seat_team)
        if winner is not None:
            return _replay(winner, command), "replay"
        if isinstance(exc, IntegrityError):
            # The take slot (biz_id) went to a concurrent lock of the same user.
            raise GroupBuyError(ResponseCode.E0103) from None
        raise
    except BaseException:
        if seat_team is not None:
            _winner_after_failure(command, seat_team)
        raise
    return result, "locked"


# --- the existing order: the same answer to a retry -------------------------------------------------


def _replay(order: LockedOrder, command: LockCommand) -> LockResult:
    """The answer to a retried lock: the same order, whatever happened since; never a second seat."""
    if order.user_id != command.user_id:
        raise GroupBuyError(
            ResponseCode.ILLEGAL_PARAMETER,
            _("outTradeNo already belongs to another user's order"),
            data={"outTradeNo": [_("already used by another user")]},
        )
    return LockResult.of(order)


def _winner_after_failure(command: LockCommand, seat_team: TeamSeats | None) -> LockedOrder | None:
    """After a failure: the order of this outTradeNo, written by a twin (or by this call when a connection was
    lost during COMMIT). Without one, the seat this call took goes back."""
    winner = locked_order(source=command.source, channel=command.channel, out_trade_no=command.out_trade_no)
    if winner is None and seat_team is not None:
        team_seat_release(team_id=seat_team.team_id, out_trade_no=command.out_trade_no)
    return winner


# --- the checks, in order ---------------------------------------------------------------------------


def _check_notify_target(command: LockCommand) -> None:
    """An HTTP callback goes only to a host the channel's credential allows (``apps.channels.notify_targets``)."""
    if command.notify_type != NotifyType.HTTP:
        return
    credential = channel_credential_get(source=command.source, channel=command.channel)
    reason = (
        _("unknown channel") if credential is None
        else notify_url_refusal(credential=credential, url=command.notify_url)
    )  # fmt: skip
    if reason:
        raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, reason, data={"notifyUrl": [reason]})


def _joinable_team(command: LockCommand, team: TeamSeats | None) -> TeamSeats | None:
    """The named team (None: open a new one), as read with the lock's reads (None: not the channel's). It must be
    the channel's own, in this activity, and joinable.

    Another channel's team answers exactly as a team that does not exist (E0002), so a channel cannot
    learn which team ids other channels use.
    """
    if not command.team_id:
        return None
    if team is None:
        raise GroupBuyError(
            ResponseCode.E0002,
            _("no such team for this channel"),
            data={"teamId": [_("no such team for this channel")]},
        )
    if team.activity_id != command.activity_id:
        raise GroupBuyError(
            ResponseCode.ILLEGAL_PARAMETER,
            _("no such team in this activity"),
            data={"teamId": [_("no such team in this activity")]},
        )
    refusal = _join_refusal(team, timezone.now())
    if refusal is not None:
        raise refusal
    return team


def _join_refusal(team: TeamSeats, now: datetime) -> GroupBuyError | None:
    """Why ``team`` cannot take one more member now, or None: the one answer per cause, whichever guard asks.

    Closed (FAILED: expired unformed, or its last member left, ``apps.trade.refund``) → E0005 "the team has
    closed", not "full"; formed or full → E0006; past its valid end → E0005 "the team has expired".
    """
    if team.status == Team.Status.FAILED:
        return GroupBuyError(ResponseCode.E0005, _("the team has closed"))
    if team.status != Team.Status.IN_PROGRESS or team.lock_count >= team.target_count:
        return GroupBuyError(ResponseCode.E0006)
    if team.valid_end_time <= now:
        return GroupBuyError(ResponseCode.E0005, _("the team has expired"))
    return None


def _trial(command: LockCommand) -> TrialResult:
    """The prices and the decision (``apps.activities.trial``): a user who may not take part gets the trial's
    refusal, E0007 (crowd tag) or E0107 (joining a new-customers-only team after a paid order)."""
    trial = trial_calculate(
        TrialRequest(
            user_id=command.user_id,
            source=command.source,
            channel=command.channel,
            goods_id=command.goods_id,
            activity_id=command.activity_id,
            intent=Intent.JOIN if command.team_id else Intent.OPEN,
        )
    )
    if not (trial.is_visible and trial.is_enable):
        raise GroupBuyError(trial.refusal or ResponseCode.E0007)
    return trial


def _check_activity_open(activity: ActivityConfig) -> None:
    if not activity.is_effective:
        raise GroupBuyError(ResponseCode.E0101)
    if not activity.is_open_at(timezone.now()):
        raise GroupBuyError(ResponseCode.E0102)


def _take_slot(command: LockCommand, activity: ActivityConfig, taken: frozenset[str]) -> str:
    """Count the channel's user's live (locked or paid) orders in the activity (``taken``, their biz ids, read
    with the idempotency lookup: ``lock_reads``) and pick the take slot.

    The slot is ``biz_id = {activity_id}_{user_id}_{n}`` with the smallest free n; its unique key with the
    channel, (source, channel, biz_id), makes concurrent locks of one user for the same slot collide, so
    racing calls cannot exceed the limit, and another channel's user of the same name takes nothing from
    this one. A refund renames its order's biz_id, freeing that slot.
    """
    if len(taken) >= activity.take_limit_count:
        raise GroupBuyError(ResponseCode.E0103)
    n = 1
    while f"{command.activity_id}_{command.user_id}_{n}" in taken:
        n += 1
    return f"{command.activity_id}_{command.user_id}_{n}"


def _occupy_seat(
    command: LockCommand,
    team: TeamSeats,
    activity: ActivityConfig,
    *,
    marker: OwnTeamsMarker | None,
    nonce: PendingNonce | None,
) -> bool:
    """A joiner's seat in Redis (``apps.trade.team_stock``), with the joiner's own-teams marker and the call's
    nonce where given. True when this call took it (and so must give it back on failure); a retry of this very
    order holding it already goes on (the database decides)."""
    try:
        occupation = team_seat_occupy(
            team_id=team.team_id,
            out_trade_no=command.out_trade_no,
            target=team.target_count,
            valid_minutes=activity.valid_time,
            marker=marker,
            nonce=nonce,
        )
    except (RedisError, OSError) as exc:
        logger.warning("team stock unavailable for team %s: %s", team.team_id, exc)
        raise GroupBuyError(ResponseCode.SERVICE_UNAVAILABLE, _("team stock unavailable, please retry")) from None
    if occupation is Occupation.FULL:
        raise GroupBuyError(ResponseCode.E0006)  # the same answer as the team check's (module docstring)
    return occupation is Occupation.TAKEN


# --- the write ----------------------------------------------------------------------------------------


def _write_drawing_ids(command: LockCommand, *, team: TeamSeats | None, trial: TrialResult, biz_id: str) -> LockResult:
    """One transaction (retried on a deadlock), drawn again when a random id collided.

    A collision (another team or order already has the drawn id) is told apart from the other unique keys
    (out_trade_no, biz_id: the caller's business) by looking the ids up after the rollback. Retrying the whole
    transaction instead of a savepoint per insert saves two round trips per insert.
    """
    for attempt in range(1, ID_ATTEMPTS + 1):
        team_id = new_team_id() if team is None else team.team_id
        order_id = new_order_id()
        try:
            return _write(command, team=team, trial=trial, biz_id=biz_id, team_id=team_id, order_id=order_id)
        except IntegrityError:
            if attempt < ID_ATTEMPTS and _id_taken(team_id=team_id if team is None else None, order_id=order_id):
                logger.info("lock transaction retried after an id collision")
                continue
            raise
    raise AssertionError("unreachable")


def _id_taken(*, team_id: str | None, order_id: str) -> bool:
    return Order.objects.filter(order_id=order_id).exists() or bool(
        team_id and Team.objects.filter(team_id=team_id).exists()
    )


def _write(
    command: LockCommand, *, team: TeamSeats | None, trial: TrialResult, biz_id: str, team_id: str, order_id: str
) -> LockResult:
    """Join (the conditional UPDATE is the last guard against overselling) or open the team; insert the order.

    One transaction of two statements (``apps.common.rows.rows_write_together``; on MariaDB one round trip): the
    team's UPDATE or INSERT, then the order's INSERT, which a join runs only if its UPDATE took the seat. The unique
    keys (order id, outTradeNo, take slot) stay the database's last word. The operators' limits, where configured,
    come last in the same transaction (``lock_limits``), so their hot rows are locked for the shortest time.
    """
    now = timezone.now()
    deduction, pay = trial.prices_for(opening=team is None)  # the leader's price when opening (module docstring)
    prices = {"original_price": trial.original_price, "deduction_price": deduction, "pay_price": pay}
    if team is not None:
        team_write = update_statement(
            Team,
            where={
                "team_id": team.team_id,
                "status": Team.Status.IN_PROGRESS,
                "lock_count__lt": F("target_count"),
                "valid_end_time__gt": now,
            },
            lock_count=F("lock_count") + 1,
            update_time=now,
        )
    else:
        team_write = insert_statement(
            Team, team_id=team_id, activity=command.activity_id, source=command.source, channel=command.channel,
            original_price=trial.original_price, deduction_price=trial.deduction_price, pay_price=trial.pay_price,
            target_count=trial.activity.target, lock_count=1, complete_count=0,
            status=Team.Status.IN_PROGRESS, valid_start_time=now,
            valid_end_time=now + timedelta(minutes=trial.activity.valid_time),
            notify_type=command.notify_type, notify_url=command.notify_url, create_time=now, update_time=now,
        )  # fmt: skip
    order_write = insert_statement(
        Order, only_if_previous_matched=team is not None, order_id=order_id, user_id=command.user_id, team=team_id,
        activity=command.activity_id, sku=command.goods_id, source=command.source, channel=command.channel,
        **prices, status=Order.Status.LOCKED, out_trade_no=command.out_trade_no, biz_id=biz_id, create_time=now,
        update_time=now,
    )  # fmt: skip
    scope = {"source": command.source, "channel": command.channel}
    take = lock_limits(**scope, user_id=command.user_id, activity=trial.activity,
                       opened_team_id=team_id if team is None else None)  # fmt: skip

    def limits(written: Written) -> None:
        if take is not None and written.counts[0]:  # a join that found no seat takes no limit
            take()

    team_written, _ = rows_write_together(team_write, order_write, then=limits if take else None).counts
    if not team_written:
        # Filled, closed or expired since the check: answer as the check would have (module docstring).
        current = team_seats(team_id=team_id, **scope)
        raise (current and _join_refusal(current, now)) or GroupBuyError(ResponseCode.E0006)
    return LockResult(order_id=order_id, team_id=team_id, status=int(Order.Status.LOCKED), **prices)
