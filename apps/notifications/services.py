"""Writes of the notify outbox. Rows are written inside the caller's transaction (the state change)."""

from apps.notifications.models import NotifyTask
from apps.trade.models import NotifyType, Team

ROUTING_KEYS = {
    NotifyTask.Category.TRADE_SETTLEMENT: "topic.team_success",
    NotifyTask.Category.TRADE_UNPAID2REFUND: "topic.team_refund",
    NotifyTask.Category.TRADE_PAID2REFUND: "topic.team_refund",
    NotifyTask.Category.TRADE_PAID_TEAM2REFUND: "topic.team_refund",
}


def notify_task_create(*, team: Team, category: str, payload: dict) -> NotifyTask:
    """One callback to deliver about ``team``, over the team's notify type (HTTP URL or MQ)."""
    is_http = team.notify_type == NotifyType.HTTP
    return NotifyTask.objects.create(
        activity_id=team.activity_id,
        team_id=team.team_id,
        source=team.source,
        channel=team.channel,
        notify_category=category,
        notify_type=team.notify_type,
        notify_mq="" if is_http else ROUTING_KEYS[category],
        notify_url=team.notify_url if is_http else "",
        parameter_json=payload,
    )
