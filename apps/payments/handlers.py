"""What the mall does with the group-buy's team callbacks, from the bus or over HTTP.

The bus handlers (registered in ``apps.py``): a completed team makes its paid orders DEAL_DONE; a refund
closes the order and returns its money. ``group_buy_callback_handle`` is the mall's HTTP receiver of the
same callbacks: our signature checked, each task uuid applied once.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.db import transaction

from apps.channels.selectors import channel_credential_get
from apps.channels.signing import verify_callback_signature
from apps.notifications.models import ProcessedMessage
from apps.payments.models import PayOrder
from apps.payments.orders import mall_orders_deal_done
from apps.payments.refunds import mall_order_refund_enqueue

logger = logging.getLogger(__name__)


def _for_this_mall(body: dict) -> bool:
    """The bus is shared by every channel: only callbacks about this mall's own channel name its orders.

    Matching by ``outTradeNo`` alone would let another mall's order of the same number close (and refund)
    one of ours; a message without source/channel is not ours either.
    """
    return (body.get("source"), body.get("channel")) == (settings.MALL_SOURCE, settings.MALL_CHANNEL)


def mall_on_team_success(body: dict) -> None:
    """Bus/HTTP callback ``trade_settlement``: the team completed, its paid orders are done."""
    if _for_this_mall(body):
        mall_orders_deal_done(out_trade_nos=list(body.get("outTradeNoList") or []))


def mall_on_team_refund(body: dict) -> None:
    """Bus/HTTP callback of a refund: close the order; return the money when it was paid."""
    order_id = body.get("outTradeNo") or ""
    if not _for_this_mall(body) or not PayOrder.objects.filter(order_id=order_id).exists():
        return  # another mall's order on the shared bus
    transaction.on_commit(lambda: mall_order_refund_enqueue(order_id, body.get("type", "")))


def group_buy_callback_handle(*, task_uuid: str, timestamp: str, signature: str, body: bytes) -> bool:
    """The mall's HTTP receiver of our team callbacks: verify our signature, apply once per task uuid."""
    credential = channel_credential_get(source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL)
    if credential is None or not verify_callback_signature(credential.secret, timestamp, body, signature):
        logger.warning("group-buy callback %s: bad signature, ignored", task_uuid)
        return False
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    if not isinstance(payload, dict) or not task_uuid:
        return False
    with transaction.atomic():
        _, created = ProcessedMessage.objects.get_or_create(consumer="mall.http_callback", message_uuid=task_uuid)
        if created and payload.get("type") != "team_expiring":  # the mall reminds its shoppers itself (reminders.py)
            (mall_on_team_refund if payload.get("type") else mall_on_team_success)(payload)
    return True
