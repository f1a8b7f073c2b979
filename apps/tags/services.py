"""Writes of crowd tags: ``crowd_tags_detail`` is the truth; ``statistics`` and the Redis bitmap follow it.

Members are only ever added in batches under a row lock on the tag (``_add_batch``): insert the details
idempotently, move ``statistics`` by the rows really inserted, set the bits. Because a rebuild takes the
same lock before it reads the details and swaps the bitmap in, a rebuild can never drop bits a job has
just set. (SQLite has no row locks; the embedded shape runs one writer at a time anyway.)

Jobs (``crowd_tags_job``) move NEW/RESET -> RUNNING -> DONE | FAILED:

* ``crowd_tag_job_run`` claims a job with one conditional UPDATE, so a job runs at most once at a time;
  a DONE or FAILED job runs again only after an explicit ``crowd_tag_job_reset``.
* Re-running is safe: details are inserted with ``ignore_conflicts`` and ``statistics`` counts rows,
  not attempts. A failed run keeps the details (and bits) of the batches it committed.
* Reset never removes members. To remove members, delete their ``crowd_tags_detail`` rows (the admin
  does that and queues a rebuild) and rebuild the bitmap, which also recounts ``statistics``.
"""

import csv
import io
import logging
import re
from collections.abc import Iterator
from datetime import timedelta

from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from apps.common.errors import GroupBuyError, ResponseCode
from apps.tags.bitmap import bitmap_add, bitmap_replace
from apps.tags.models import CrowdTag, CrowdTagDetail, CrowdTagJob
from apps.tags.selectors import crowd_tag_trading_user_ids

logger = logging.getLogger(__name__)

CROWD_TAG_JOB_BATCH_SIZE = 1000
CROWD_TAG_CSV_MAX_BYTES = 20 * 1024 * 1024
CROWD_TAG_CSV_EXTENSIONS = ("csv", "txt")
# A RUNNING job refreshes update_time at least once per batch; one silent this long has lost its worker
# (killed, or the database went away before the outcome was written) and may be reset.
CROWD_TAG_JOB_STALE_AFTER = timedelta(minutes=15)
CLAIMABLE_STATUSES = (CrowdTagJob.Status.NEW, CrowdTagJob.Status.RESET)
# Infrastructure hiccups worth retrying (the task's autoretry policy uses the same tuple).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
)

_USER_ID = re.compile(r"[^\s\x00-\x1f\x7f]{1,64}")
_HEADER = "user_id"
_MAX_REPORTED_LINES = 10
_MAX_ERROR_CHARS = 2000


def _invalid(message: str) -> GroupBuyError:
    return GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, message)


# --- members ----------------------------------------------------------------------------------------


def _lock_tag(tag_pk: int) -> None:
    """Serialize writers of one tag's members (and its bitmap) on the ``crowd_tags`` row."""
    CrowdTag.objects.select_for_update().filter(pk=tag_pk).values_list("pk", flat=True).get()


def _add_batch(*, tag: CrowdTag, user_ids: list[str]) -> int:
    """Add distinct, valid ``user_ids``; the caller holds ``transaction.atomic``. Returns rows inserted."""
    _lock_tag(tag.pk)
    existing = CrowdTagDetail.objects.filter(tag__tag_id=tag.tag_id, user_id__in=user_ids).count()
    CrowdTagDetail.objects.bulk_create(
        [CrowdTagDetail(tag_id=tag.tag_id, user_id=user_id) for user_id in user_ids], ignore_conflicts=True
    )
    inserted = len(user_ids) - existing
    if inserted:
        CrowdTag.objects.filter(pk=tag.pk).update(statistics=F("statistics") + inserted)
    # Inside the lock and before the commit: a rollback leaves extra bits (a false positive the next
    # rebuild clears), never a member without a bit.
    bitmap_add(tag.tag_id, user_ids)
    return inserted


def _recount(tag: CrowdTag) -> int:
    """Set ``statistics`` to the exact number of details; the caller holds the tag lock."""
    count = CrowdTagDetail.objects.filter(tag__tag_id=tag.tag_id).count()
    CrowdTag.objects.filter(pk=tag.pk).exclude(statistics=count).update(statistics=count)
    tag.statistics = count
    return count


def crowd_tag_add_members(*, tag: CrowdTag, user_ids: list[str]) -> int:
    """Insert members idempotently, keep ``statistics`` exact, set their bits. Returns new members."""
    wanted = sorted({user_id.strip() for user_id in user_ids if user_id and user_id.strip()})
    invalid = [user_id for user_id in wanted if not _USER_ID.fullmatch(user_id)]
    if invalid:
        raise _invalid(gettext("invalid user ids: %(ids)s") % {"ids": ", ".join(invalid[:_MAX_REPORTED_LINES])})
    inserted = 0
    with transaction.atomic():
        for batch in _batches(wanted, CROWD_TAG_JOB_BATCH_SIZE):
            inserted += _add_batch(tag=tag, user_ids=batch)
    tag.refresh_from_db(fields=["statistics"])
    return inserted


def crowd_tag_rebuild_bitmap(*, tag: CrowdTag) -> int:
    """Rebuild the Redis bitmap from ``crowd_tags_detail`` and recount ``statistics``. Returns members.

    The bitmap is built in a scratch key and RENAMEd over the live one, so readers never see it half
    built; the tag lock keeps jobs from setting bits into the old key meanwhile.
    """
    with transaction.atomic():
        _lock_tag(tag.pk)
        user_ids = list(CrowdTagDetail.objects.filter(tag__tag_id=tag.tag_id).values_list("user_id", flat=True))
        bitmap_replace(tag.tag_id, user_ids)
        CrowdTag.objects.filter(pk=tag.pk).exclude(statistics=len(user_ids)).update(statistics=len(user_ids))
    tag.statistics = len(user_ids)
    return len(user_ids)


# --- collecting user ids ------------------------------------------------------------------------------


def _user_id_problem(value: str) -> str | None:
    if _USER_ID.fullmatch(value):
        return None
    if len(value) > 64:
        return gettext("user id longer than 64 characters")
    return gettext("user id empty or containing whitespace/control characters")


def parse_user_id_csv(data: bytes) -> list[str]:
    """User ids of an uploaded file, deduplicated in file order; invalid lines are one GroupBuyError.

    Accepted: UTF-8 (a BOM is fine), either one user id per line, or CSV whose first non-blank row is a
    header with a ``user_id`` column (any case; other columns are ignored). Cells are stripped and blank
    lines skipped. A user id is 1-64 characters without whitespace or control characters.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _invalid(gettext("the file is not UTF-8 text (byte %(byte)d)") % {"byte": exc.start}) from None
    column: int | None = None
    first_row = True
    user_ids: dict[str, None] = {}
    problems: list[str] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            lowered = [cell.lower() for cell in cells]
            if first_row and _HEADER in lowered:
                column = lowered.index(_HEADER)
                first_row = False
                continue
            first_row = False
            if column is not None:
                values = [cells[column] if column < len(cells) else ""]
            else:
                values = [cell for cell in cells if cell]
            problem = (
                gettext("several values (use one user id per line, or a user_id column)") if len(values) > 1 else None
            )
            problem = problem or _user_id_problem(values[0])
            if problem:
                problems.append(gettext("line %(line)d: %(problem)s") % {"line": reader.line_num, "problem": problem})
            else:
                user_ids.setdefault(values[0])
    except csv.Error as exc:
        raise _invalid(
            gettext("line %(line)d: unreadable CSV (%(error)s)") % {"line": reader.line_num, "error": exc}
        ) from None
    if problems:
        shown = "; ".join(problems[:_MAX_REPORTED_LINES])
        hidden = len(problems) - _MAX_REPORTED_LINES
        more = (gettext("; and %(count)d more") % {"count": hidden}) if hidden > 0 else ""
        raise _invalid(
            ngettext("%(count)d invalid line: %(lines)s", "%(count)d invalid lines: %(lines)s", len(problems))
            % {"count": len(problems), "lines": shown + more}
        )
    if not user_ids:
        raise _invalid(gettext("the file contains no user ids"))
    return list(user_ids)


def crowd_tag_min_paid_orders(rule: str) -> int:
    """The trading-history rule: a positive whole number of paid orders; blank means 1."""
    rule = (rule or "").strip() or "1"
    if not rule.isdecimal() or int(rule) < 1:
        raise _invalid(gettext("rule must be a positive whole number of paid orders, got %(rule)r") % {"rule": rule})
    return int(rule)


def _read_source_file(job: CrowdTagJob) -> bytes:
    if not job.source_file:
        raise _invalid(gettext("a CSV import job needs a source file"))
    try:
        with job.source_file.open("rb") as handle:
            data = handle.read(CROWD_TAG_CSV_MAX_BYTES + 1)
    except FileNotFoundError:
        raise _invalid(
            gettext("source file %(name)s is missing from storage") % {"name": job.source_file.name}
        ) from None
    if len(data) > CROWD_TAG_CSV_MAX_BYTES:
        raise _invalid(
            gettext("source file is larger than %(mb)d MB") % {"mb": CROWD_TAG_CSV_MAX_BYTES // (1024 * 1024)}
        )
    return data


def _collect_user_ids(job: CrowdTagJob) -> list[str]:
    if job.tag_type == CrowdTagJob.TagType.CSV_IMPORT:
        return parse_user_id_csv(_read_source_file(job))
    if job.tag_type == CrowdTagJob.TagType.TRADING_HISTORY:
        if job.stat_start_time is None or job.stat_end_time is None:
            raise _invalid(gettext("a trading-history job needs a window start and end"))
        return crowd_tag_trading_user_ids(
            start=job.stat_start_time,
            end=job.stat_end_time,
            min_paid_orders=crowd_tag_min_paid_orders(job.tag_rule),
        )
    raise _invalid(gettext("unknown job type %(type)s") % {"type": job.tag_type})


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- jobs ---------------------------------------------------------------------------------------------


class _ClaimLost(Exception):
    """The job stopped being RUNNING under us (a stale-job reset): stop without touching it."""


def _running(job_id: int) -> QuerySet[CrowdTagJob]:
    return CrowdTagJob.objects.filter(pk=job_id, status=CrowdTagJob.Status.RUNNING)


def _set_progress(job_id: int, processed: int, *, total: int) -> None:
    if not _running(job_id).update(progress=processed, total=total, update_time=timezone.now()):
        raise _ClaimLost


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _end(job_id: int, *, status: int, error: str = "", progress: int | None = None) -> None:
    """Record the outcome of a claimed run; best effort when the database itself is what failed."""
    values = {"status": status, "error": error[:_MAX_ERROR_CHARS], "update_time": timezone.now()}
    if progress is not None:
        values["progress"] = progress
    try:
        _running(job_id).update(**values)
    except DatabaseError:
        logger.exception("crowd tag job %s: outcome not recorded; it stays RUNNING until reset", job_id)


def crowd_tag_job_run(*, job_id: int, retry_transient: bool = False) -> CrowdTagJob | None:
    """Run a NEW or RESET job to DONE (or FAILED). Returns None when the job was not claimed.

        Claiming is one conditional UPDATE (NEW/RESET -> RUNNING): a RUNNING, DONE or FAILED job is left
        alone, so two concurrent calls run the job once. The user ids are collected first (a bad file fails
        before anything is inserted), then added in batches of ``CROWD_TAG_JOB_BATCH_SIZE``; each batch commits
        its details, ``statistics``, bits and ``progress`` (distinct users handled so far) together with
    ``total`` (the distinct users collected), so progress reads as a percentage.

        Failures end FAILED with ``error``: domain problems (bad file, bad rule) quietly, anything else is
        re-raised after recording it. With ``retry_transient`` (the Celery task, while it has retries left) a
        transient infrastructure error instead puts the job back to RESET and re-raises, so a retry can claim
        it again. Batches committed before a failure stay: re-running skips them.
    """
    now = timezone.now()
    claimed = CrowdTagJob.objects.filter(pk=job_id, status__in=CLAIMABLE_STATUSES).update(
        status=CrowdTagJob.Status.RUNNING, progress=0, total=0, error="", update_time=now
    )
    if not claimed:
        logger.info("crowd tag job %s not claimed: missing, or not NEW/RESET", job_id)
        return None
    processed = 0
    try:
        job = CrowdTagJob.objects.select_related("tag").get(pk=job_id)
        user_ids = _collect_user_ids(job)
        for batch in _batches(user_ids, CROWD_TAG_JOB_BATCH_SIZE):
            with transaction.atomic():
                _add_batch(tag=job.tag, user_ids=batch)
                _set_progress(job_id, processed + len(batch), total=len(user_ids))
            processed += len(batch)
        with transaction.atomic():
            _lock_tag(job.tag.pk)
            _recount(job.tag)
            if not _running(job_id).update(
                status=CrowdTagJob.Status.DONE,
                progress=processed,
                total=processed,
                error="",
                update_time=timezone.now(),
            ):
                raise _ClaimLost
    except _ClaimLost:
        logger.warning("crowd tag job %s was reset while running; this run stops", job_id)
        return None
    except GroupBuyError as exc:
        _end(job_id, status=CrowdTagJob.Status.FAILED, error=exc.info, progress=processed)
    except TRANSIENT_ERRORS as exc:
        if retry_transient:
            _end(job_id, status=CrowdTagJob.Status.RESET, error=f"interrupted, can run again: {_describe(exc)}")
        else:
            _end(job_id, status=CrowdTagJob.Status.FAILED, error=_describe(exc), progress=processed)
        raise
    except Exception as exc:
        _end(job_id, status=CrowdTagJob.Status.FAILED, error=_describe(exc), progress=processed)
        raise
    logger.info("crowd tag job %s: %s users processed", job_id, processed)
    return CrowdTagJob.objects.select_related("tag").get(pk=job_id)


def crowd_tag_job_reset(*, job_id: int) -> CrowdTagJob:
    """Make a job runnable again: status RESET, progress 0, error cleared. Members are kept.

    Allowed from NEW, RESET, DONE and FAILED; a RUNNING job only once it has shown no progress for
    ``CROWD_TAG_JOB_STALE_AFTER`` (its worker is gone). To remove members, delete their details and
    rebuild the bitmap (see the module docstring).
    """
    now = timezone.now()
    resettable = ~Q(status=CrowdTagJob.Status.RUNNING) | Q(update_time__lt=now - CROWD_TAG_JOB_STALE_AFTER)
    updated = (
        CrowdTagJob.objects.filter(pk=job_id)
        .filter(resettable)
        .update(status=CrowdTagJob.Status.RESET, progress=0, total=0, error="", update_time=now)
    )
    if not updated:
        if not CrowdTagJob.objects.filter(pk=job_id).exists():
            raise GroupBuyError(ResponseCode.NOT_FOUND, gettext("crowd tag job %(id)s does not exist") % {"id": job_id})
        raise GroupBuyError(
            ResponseCode.UPDATE_ZERO,
            f"crowd tag job {job_id} is running; reset it when it ends "
            f"(or after {int(CROWD_TAG_JOB_STALE_AFTER.total_seconds() // 60)} minutes without progress)",
        )
    return CrowdTagJob.objects.select_related("tag").get(pk=job_id)
