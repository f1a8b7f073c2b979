"""Bus handlers of the trade app: a refunded seat of an unformed team is offered again."""

import logging

from apps.activities.selectors import activity_config
from apps.notifications.models import NotifyTask
from apps.trade.models import Order, Team
from apps.trade.team_stock import team_seat_recover

logger = logging.getLogger(__name__)

RECOVERING = {NotifyTask.Category.TRADE_UNPAID2REFUND, NotifyTask.Category.TRADE_PAID2REFUND}


def recover_team_seat(body: dict) -> None:
    """topic.team_refund: recover the seat for the two unformed refund types (paid_formed takes nobody).

    Only for an order that really was refunded, of that team and channel: a message is matched by
    (source, channel, outTradeNo) with its order and team ids, never by outTradeNo alone. Only while the
    team is in progress: a closed team (its last member left, or it expired) is never offered again.
    """
    if body.get("type") not in RECOVERING:
        return
    team_id = body.get("teamId")
    refunded = (
        team_id is not None
        and Order.objects.filter(
            source=body.get("source"),
            channel=body.get("channel"),
            out_trade_no=body.get("outTradeNo"),
            order_id=body.get("orderId"),
            team_id=team_id,
            status=Order.Status.REFUNDED,
        ).exists()
    )
    if not refunded:
        logger.warning("team_refund message for no refunded order of its channel, ignored: %s", body)
        return
    if not Team.objects.filter(team_id=body["teamId"], status=Team.Status.IN_PROGRESS).exists():
        logger.info(
            "team_refund message for team %s, which is no longer in progress: no seat recovered", body["teamId"]
        )
        return
    activity = activity_config(activity_id=int(body["activityId"]))
    team_seat_recover(
        team_id=body["teamId"],
        order_id=body["orderId"],
        out_trade_no=body["outTradeNo"],
        valid_minutes=activity.valid_time if activity else 15,
    )
