"""A distributed lock for periodic jobs: only one instance runs a job at a time (redis-py's Lock)."""

from collections.abc import Iterator
from contextlib import contextmanager, suppress

from redis.exceptions import LockError

from apps.common.redis import get_redis


@contextmanager
def single_instance(name: str, *, ttl_seconds: int) -> Iterator[bool]:
    """Yield True when this process holds the lock ``name``; False (without waiting) otherwise.

    The lock expires after ``ttl_seconds`` so a crashed holder never blocks the job for good.
    """
    lock = get_redis().lock(f"gbm:lock:{name}", timeout=ttl_seconds, blocking=False)
    acquired = lock.acquire()
    try:
        yield acquired
    finally:
        if acquired:
            # Expired meanwhile (LockError): another instance may hold it now; nothing to release.
            with suppress(LockError):
                lock.release()
