"""A team's callbacks to its mall, written to the generic outbox (``apps.notifications``) in the caller's
transaction. The outbox knows no trade rows: this is where a team becomes plain values."""

import logging

from apps.common.serializers import format_datetime
from apps.notifications.models import NotifyTask
from apps.notifications.services import notify_task_create
from apps.trade.models import NotifyType, Team
from apps.trade.selectors import SettleTeam

logger = logging.getLogger(__name__)


def team_notify(team: Team | SettleTeam, *, category: str, payload: dict, notify_type: str | None = None) -> int:
    """One outbox callback about ``team``, over its own notify type unless ``notify_type`` says otherwise; answers
    the task's id."""
    return notify_task_create(
        activity_id=team.activity_id, team_id=team.team_id, source=team.source, channel=team.channel,
        category=category, payload=payload, notify_type=notify_type or team.notify_type, notify_url=team.notify_url,
    )  # fmt: skip


def team_expiring_notify(team: Team, *, out_trade_nos: list[str]) -> int | None:
    """The opt-in ``team_expiring`` callback (``ChannelCredential.team_expiring_callback``): ``team`` is still in
    progress with seats left and its deadline is near. Over the team's notify type (MQ routing key
    ``topic.team_expiring``); None for an HTTP team without a URL to call. The caller makes it once per team
    (``apps.payments.reminders``).

    Body: ``{type: "team_expiring", source, channel, teamId, activityId, targetCount, lockCount, completeCount,
    validEndTime, outTradeNoList}`` (``type`` tells it apart from a settlement at a receiver that takes every
    callback on one URL; ``outTradeNoList``: the team's live orders, locked or paid).
    """
    if team.notify_type == NotifyType.HTTP and not team.notify_url:
        logger.warning("team %s: no notify URL for its team_expiring callback", team.team_id)
        return None
    return team_notify(
        team,
        category=NotifyTask.Category.TEAM_EXPIRING,
        payload={
            "type": NotifyTask.Category.TEAM_EXPIRING.value,
            "source": team.source,
            "channel": team.channel,
            "teamId": team.team_id,
            "activityId": team.activity_id,
            "targetCount": team.target_count,
            "lockCount": team.lock_count,
            "completeCount": team.complete_count,
            "validEndTime": format_datetime(team.valid_end_time),
            "outTradeNoList": out_trade_nos,
        },
    )
