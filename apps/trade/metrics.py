"""Business counters of teams and orders, with their known label values initialised to 0 at import.

Outcomes are "locked"/"settled"/"replay" or the refusal's code (api.md's error table); refunds are by
strategy name or "repeat" (those labels are initialised next to the strategies, ``apps.trade.refund``).
A code not listed here still counts (from its first occurrence); the list only makes the usual ones
visible from the first scrape.
"""

from collections.abc import Callable
from typing import TypeVar

from prometheus_client import Counter

from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.metrics import counter_labels_init

LOCKS = Counter("gbm_locks_total", "Lock order attempts by outcome", ["outcome"])
SETTLEMENTS = Counter("gbm_settlements_total", "Settlement attempts by outcome", ["outcome"])
TEAMS_COMPLETED = Counter("gbm_teams_completed_total", "Teams that reached their target")
TEAMS_FAILED = Counter("gbm_teams_failed_total", "Teams that closed without forming (expired, or every member left)")
REFUNDS = Counter("gbm_refunds_total", "Refunds by strategy", ["strategy"])

_C = ResponseCode
T = TypeVar("T")


def counted(counter: Counter, flow: Callable[[], tuple[T, str]]) -> T:
    """Run a flow that answers (result, outcome) and count the outcome, or the code it was refused with."""
    try:
        result, outcome = flow()
    except GroupBuyError as exc:
        counter.labels(exc.code).inc()
        raise
    counter.labels(outcome).inc()
    return result


LOCK_OUTCOMES = (
    "locked", "replay",
    *(code.code for code in (_C.ILLEGAL_PARAMETER, _C.SERVICE_UNAVAILABLE, _C.E0002, _C.E0005, _C.E0006, _C.E0007,
                             _C.E0008, _C.E0101, _C.E0102, _C.E0103, _C.E0107)),
)  # fmt: skip
SETTLE_OUTCOMES = (
    "settled",
    "replay",
    *(code.code for code in (_C.ILLEGAL_PARAMETER, _C.UPDATE_ZERO, _C.E0104, _C.E0105, _C.E0106)),
)

counter_labels_init(LOCKS, LOCK_OUTCOMES)
counter_labels_init(SETTLEMENTS, SETTLE_OUTCOMES)
