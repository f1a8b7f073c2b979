"""The trade app's writes, one module per flow; imported from here by the other apps.

``apps.trade.lock: order_lock`` · ``apps.trade.settle: order_settle, team_complete`` ·
``apps.trade.refund: order_refund`` · ``apps.trade.timeouts``: the sweeps of Celery beat.
Each flow reads top-down in its own module: command → checks → write.
"""

from apps.trade.lock import LockCommand, LockResult, order_lock
from apps.trade.refund import RefundOutcome, order_refund
from apps.trade.settle import SettleCommand, SettleResult, order_settle, team_complete

__all__ = [
    "LockCommand",
    "LockResult",
    "RefundOutcome",
    "SettleCommand",
    "SettleResult",
    "order_lock",
    "order_refund",
    "order_settle",
    "team_complete",
]
