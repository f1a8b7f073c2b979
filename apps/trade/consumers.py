"""Bus handlers of the trade app: a refunded seat of an unformed team is offered again."""

from apps.activities.selectors import activity_config
from apps.notifications.models import NotifyTask
from apps.trade.team_stock import team_seat_recover

RECOVERING = {NotifyTask.Category.TRADE_UNPAID2REFUND, NotifyTask.Category.TRADE_PAID2REFUND}


def recover_team_seat(body: dict) -> None:
    """topic.team_refund: recover the seat for the two unformed refund types (paid_formed takes nobody)."""
    if body.get("type") not in RECOVERING:
        return
    activity = activity_config(activity_id=int(body["activityId"]))
    team_seat_recover(
        team_id=body["teamId"],
        order_id=body["orderId"],
        out_trade_no=body["outTradeNo"],
        valid_minutes=activity.valid_time if activity else 15,
    )
