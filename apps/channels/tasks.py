"""Celery adapters of channel signing."""

import logging

from celery import shared_task
from redis.exceptions import RedisError

from apps.channels.nonces import nonces_copy_to_redis, nonces_purge_expired

logger = logging.getLogger(__name__)


# The name it had in apps.accounts: queued messages and django-celery-beat rows name the task by it.
@shared_task(name="apps.accounts.tasks.purge_expired_nonces", ignore_result=True)
def purge_expired_nonces() -> int:
    """Beat (every 5 minutes): delete the expired nonces recorded while Redis was unreachable, then copy
    the unexpired ones into Redis (again), in case the process that recorded them ended before Redis came
    back. Both steps are idempotent, so no lock: two instances at once only repeat each other's work."""
    deleted = nonces_purge_expired()
    try:
        nonces_copy_to_redis()
    except (RedisError, OSError) as exc:
        logger.warning("nonce purge: Redis unreachable, the unexpired nonces stay in the database only: %s", exc)
    return deleted
