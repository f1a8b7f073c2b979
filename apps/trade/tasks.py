import logging

from celery import shared_task

from apps.common.locks import single_instance
from apps.trade.limits import daily_takes_purge
from apps.trade.own_teams import own_teams_mirror_sync
from apps.trade.timeouts import trade_timeouts_run

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def run_trade_timeouts() -> dict:
    """Beat, every 30 s: release unpaid locks and close expired teams; one instance at a time."""
    with single_instance("trade_timeouts", ttl_seconds=300) as acquired:
        if not acquired:
            return {}
        result = trade_timeouts_run()
        if any(result.values()):
            logger.info("trade timeouts: %s", result)
        return result


@shared_task(ignore_result=True)
def purge_daily_takes() -> int:
    """Beat, hourly: the per-user take counters of past days decide nothing any more (``apps.trade.limits``)."""
    return daily_takes_purge()


@shared_task(ignore_result=True)
def sync_own_teams_mirror() -> dict:
    """Beat, every minute: build the product page's own-teams mirror, or catch up its recent orders
    (``apps.trade.own_teams``). Idempotent, so runs may overlap."""
    return own_teams_mirror_sync()
