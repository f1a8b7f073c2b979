"""A team's callbacks to its mall, written to the generic outbox (``apps.notifications``) in the caller's
transaction. The outbox knows no trade rows: this is where a team becomes plain values."""

from apps.notifications.services import notify_task_create
from apps.trade.models import Team
from apps.trade.selectors import SettleTeam


def team_notify(team: Team | SettleTeam, *, category: str, payload: dict, notify_type: str | None = None) -> int:
    """One outbox callback about ``team``, over its own notify type unless ``notify_type`` says otherwise; answers
    the task's id."""
    return notify_task_create(
        activity_id=team.activity_id, team_id=team.team_id, source=team.source, channel=team.channel,
        category=category, payload=payload, notify_type=notify_type or team.notify_type, notify_url=team.notify_url,
    )  # fmt: skip
