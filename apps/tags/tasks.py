"""Celery tasks of crowd tags: receive ids, call one service, own the retry policy.

Both tasks are idempotent: a job runs only when it can be claimed (NEW/RESET), and a rebuild always
produces the same bitmap from the same details. Transient database/Redis errors are retried up to 3 times
with exponential backoff; a job interrupted that way goes back to RESET so the retry can claim it again,
and ends FAILED on the last attempt.
"""

import logging
from typing import Any, TypedDict

from celery import Task, shared_task
from django.dispatch import receiver

from apps.tags.models import CrowdTag
from apps.tags.services import TRANSIENT_ERRORS, crowd_tag_job_run, crowd_tag_rebuild_bitmap
from apps.tags.signals import crowd_tag_bitmap_missing

logger = logging.getLogger(__name__)


class RetryPolicy(TypedDict):
    """``shared_task`` options, typed so that ``**RETRY_POLICY`` is checked against them."""

    autoretry_for: tuple[type[Exception], ...]
    max_retries: int
    retry_backoff: int
    retry_backoff_max: int
    retry_jitter: bool
    acks_late: bool


RETRY_POLICY: RetryPolicy = {
    "autoretry_for": TRANSIENT_ERRORS,
    "max_retries": 3,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "acks_late": True,
}


@shared_task(bind=True, **RETRY_POLICY)
def run_crowd_tag_job(self: Task, job_id: int) -> int | None:
    """Run crowd tag job ``job_id`` (pk). Returns its final status, or None if it was not claimed."""
    retries_left = self.max_retries is None or self.request.retries < self.max_retries  # None: no limit
    job = crowd_tag_job_run(job_id=job_id, retry_transient=retries_left)
    return None if job is None else job.status


@shared_task(**RETRY_POLICY)
def rebuild_crowd_tag_bitmap(tag_id: str) -> int | None:
    """Rebuild the bitmap of tag ``tag_id`` (the natural key) from its details. Returns the member count."""
    tag = CrowdTag.objects.filter(tag_id=tag_id).first()
    if tag is None:
        logger.warning("crowd tag %s no longer exists; nothing to rebuild", tag_id)
        return None
    return crowd_tag_rebuild_bitmap(tag=tag)


@receiver(crowd_tag_bitmap_missing, dispatch_uid="tags.rebuild_missing_bitmap")
def rebuild_missing_bitmap(sender: Any, tag_id: str, **kwargs: Any) -> None:
    """A trial found members but no bitmap (the selector already limits this to once a minute): rebuild."""
    rebuild_crowd_tag_bitmap.delay(tag_id)
