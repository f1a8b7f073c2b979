"""The limits operators set (issue 17), taken inside the lock's transaction.
Design: docs/decisions/015-limits-are-counters-in-the-locks-transaction.md.

* Teams formed per activity (``Activity.max_teams_formed``): a team reserves a *formation slot* when it opens,
  by a conditional ``UPDATE ... SET reserved = reserved + 1 WHERE reserved < limit`` on the activity's
  ``FormationQuota`` row, and gives it back only when it fails without forming (``formation_slot_release``: a
  refund closing an emptied team, the timeout failing an expired one). A formed team keeps its slot. Hence
  formed <= reserved <= limit at every commit, however many payments complete teams at once: settlement needs
  no check. Opening is refused with E0108 once open and formed teams hold every slot; joins of open teams go on.
* Takes per user per day on a channel (``ChannelCredential.daily_take_limit``): a conditional
  ``UPDATE ... SET takes = takes + 1 WHERE takes < limit`` on the user's ``DailyTakes`` row of the day (the local
  date in ``settings.TIME_ZONE``). A take is a seat locked (opened or joined); it is not given back when the lock
  is released or refunded. Refused with E0109. A retried lock (same outTradeNo) is answered before this runs.

Rows are made on first need by an upsert that changes nothing when the row exists (``INSERT ... ON DUPLICATE KEY
UPDATE update_time``: it takes the row's exclusive lock at once, so concurrent first takes queue rather than
deadlock), then the conditional UPDATE runs again. A quota row starts from the teams as they are (open or formed)
and is dropped whenever the activity is saved (``formation_quota_reset``), so a changed limit counts from the
database again. Not configured: nothing here runs, and the lock costs what it did.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial

from django.db import connection
from django.db.models import F, Model
from django.utils import timezone
from django.utils.translation import gettext

from apps.activities.selectors import ActivityConfig
from apps.channels.selectors import channel_credential_get
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.rows import rows_update, values_where
from apps.common.shopper_messages import JOIN_OPEN_TEAM
from apps.trade.models import DailyTakes, FormationQuota, Team
from apps.trade.selectors import FORMED, HOLDS_FORMATION_SLOT


def lock_limits(
    *, source: str, channel: str, user_id: str, activity: ActivityConfig, opened_team_id: str | None
) -> Callable[[], None] | None:
    """The operators' limits a lock takes, as the writes to run inside its transaction once its rows are written:
    the slot of the team it opened (``opened_team_id``; None for a join) and the user's take of the day, each only
    where configured. None when neither is (then the lock's transaction is its two statements alone)."""
    takes: list[Callable[[], None]] = []
    if opened_team_id is not None and activity.max_teams_formed is not None:
        takes.append(partial(formation_slot_reserve, activity_id=activity.activity_id,
                             limit=activity.max_teams_formed, team_id=opened_team_id))  # fmt: skip
    credential = channel_credential_get(source=source, channel=channel)  # cached: no query when warm
    daily_limit = credential.daily_take_limit if credential is not None else None
    if daily_limit is not None:
        takes.append(partial(daily_take_record, source=source, channel=channel, user_id=user_id, limit=daily_limit))
    if not takes:
        return None

    def take() -> None:
        for limit_take in takes:
            limit_take()

    return take


# --- teams formed per activity ------------------------------------------------------------------------


def formation_slot_reserve(*, activity_id: int, limit: int, team_id: str) -> None:
    """A formation slot for the team ``team_id`` just inserted in this transaction, or E0108.

    One UPDATE when the quota row exists; on the first open after a (re)configuration the row is seeded from the
    teams holding a slot (open or formed), ``team_id`` excluded since its own reservation follows.
    """
    if _reserve(activity_id, limit):
        return
    if not values_where(FormationQuota, ("reserved",), activity=activity_id):
        holding = Team.objects.filter(HOLDS_FORMATION_SLOT, activity_id=activity_id).exclude(team_id=team_id).count()
        _upsert(FormationQuota(activity_id=activity_id, reserved=holding), unique=("activity",))
        if _reserve(activity_id, limit):
            return
    formed = Team.objects.filter(FORMED, activity_id=activity_id).count()
    if formed >= limit:
        raise GroupBuyError(ResponseCode.E0108)
    raise GroupBuyError(
        ResponseCode.E0108,
        gettext("no new team may open: the offer's teams are all taken; join an open team"),
        data={"reason": JOIN_OPEN_TEAM},
    )


def _reserve(activity_id: int, limit: int) -> bool:
    return bool(
        rows_update(
            FormationQuota,
            where={"activity": activity_id, "reserved__lt": limit},
            reserved=F("reserved") + 1,
            update_time=timezone.now(),
        )
    )


def formation_slot_release(*, activity_id: int) -> None:
    """Inside the transaction that fails a team which never formed: its slot goes back (no quota row: the
    activity is not limited, or its row was dropped to be seeded again; nothing to give back)."""
    rows_update(
        FormationQuota,
        where={"activity": activity_id, "reserved__gt": 0},
        reserved=F("reserved") - 1,
        update_time=timezone.now(),
    )


def formation_quota_reset(*, activity_id: int) -> None:
    """Drop the activity's quota row (after a save of the activity: its limit may have changed); the next open
    seeds it again from the teams."""
    FormationQuota.objects.filter(activity_id=activity_id).delete()


# --- takes per user per day -----------------------------------------------------------------------------


def daily_take_record(*, source: str, channel: str, user_id: str, limit: int) -> None:
    """Count one take of today for the channel's user, or E0109 when ``limit`` are taken already."""
    key = {"source": source, "channel": channel, "user_id": user_id, "day": timezone.localdate()}
    if _take(key, limit):
        return
    _upsert(DailyTakes(**key, takes=0), unique=("source", "channel", "user_id", "day"))
    if not _take(key, limit):
        raise GroupBuyError(ResponseCode.E0109)


def _take(key: dict, limit: int) -> bool:
    return bool(rows_update(DailyTakes, where={**key, "takes__lt": limit}, takes=F("takes") + 1,
                            update_time=timezone.now()))  # fmt: skip


def daily_takes_purge(*, before_days: int = 2) -> int:
    """Delete the counters of days before ``before_days`` ago (they decide nothing any more)."""
    cutoff = timezone.localdate() - timedelta(days=before_days)
    deleted, _ = DailyTakes.objects.filter(day__lt=cutoff).delete()
    return deleted


# --- the upsert -----------------------------------------------------------------------------------------


def _upsert(row: Model, *, unique: tuple[str, ...]) -> None:
    """INSERT ``row``, or touch only ``update_time`` of the row with its unique key (MariaDB: ON DUPLICATE KEY
    UPDATE, which locks that row exclusively; SQLite: ON CONFLICT DO UPDATE). Never an IntegrityError, so it is
    safe inside the lock's transaction."""
    with_target = connection.features.supports_update_conflicts_with_target
    type(row)._default_manager.bulk_create(
        [row], update_conflicts=True, update_fields=["update_time"], unique_fields=list(unique) if with_target else None
    )
