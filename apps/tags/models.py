import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.common.models import TimeStampedModel


class CrowdTag(TimeStampedModel):
    """A set of users, mirrored into a Redis bitmap; ``crowd_tags_detail`` is the source of truth."""

    tag_id = models.CharField(_("tag id"), max_length=32, unique=True)
    tag_name = models.CharField(_("tag name"), max_length=64)
    tag_desc = models.CharField(_("description"), max_length=256, blank=True)
    statistics = models.PositiveIntegerField(_("member count"), default=0)

    class Meta:
        db_table = "crowd_tags"
        verbose_name = _("crowd tag")
        verbose_name_plural = _("crowd tags")

    def __str__(self) -> str:
        return f"{self.tag_name} ({self.tag_id})"


class CrowdTagDetail(TimeStampedModel):
    tag = models.ForeignKey(
        CrowdTag,
        on_delete=models.CASCADE,
        to_field="tag_id",
        db_column="tag_id",
        related_name="details",
        verbose_name=_("crowd tag"),
    )
    user_id = models.CharField(_("user id"), max_length=64)

    class Meta:
        db_table = "crowd_tags_detail"
        verbose_name = _("crowd tag member")
        verbose_name_plural = _("crowd tag members")
        constraints = [models.UniqueConstraint(fields=["tag", "user_id"], name="uniq_crowd_tag_user")]

    def __str__(self) -> str:
        return f"{self.tag_id}:{self.user_id}"


def new_batch_id() -> str:
    """A readable, unique batch id: local time to the second plus 6 random hex digits (20 characters)."""
    return f"{timezone.localtime():%Y%m%d%H%M%S}{secrets.token_hex(3).upper()}"


class CrowdTagJob(TimeStampedModel):
    """A batch that fills a tag: from an uploaded CSV of user ids, or from trading history."""

    class TagType(models.IntegerChoices):
        CSV_IMPORT = 0, _("import user ids from CSV")
        TRADING_HISTORY = 1, _("users with paid orders in the window")

    class Status(models.IntegerChoices):
        NEW = 0, _("new")
        RUNNING = 1, _("running")
        RESET = 2, _("reset")
        DONE = 3, _("done")
        FAILED = 4, _("failed")

    batch_id = models.CharField(_("batch id"), max_length=32, unique=True, default=new_batch_id, editable=False)
    tag = models.ForeignKey(
        CrowdTag,
        on_delete=models.CASCADE,
        to_field="tag_id",
        db_column="tag_id",
        related_name="jobs",
        verbose_name=_("crowd tag"),
    )
    tag_type = models.PositiveSmallIntegerField(_("job type"), choices=TagType.choices, default=TagType.CSV_IMPORT)
    tag_rule = models.CharField(
        _("rule"),
        max_length=64,
        blank=True,
        help_text=_("For trading history: the minimum number of paid orders, e.g. 1."),
    )
    source_file = models.FileField(_("CSV of user ids"), upload_to="crowd_tags/", blank=True)
    stat_start_time = models.DateTimeField(_("window start"), null=True, blank=True)
    stat_end_time = models.DateTimeField(_("window end"), null=True, blank=True)
    status = models.PositiveSmallIntegerField(_("status"), choices=Status.choices, default=Status.NEW)
    progress = models.PositiveIntegerField(_("users processed"), default=0)
    total = models.PositiveIntegerField(_("users to process"), default=0)
    error = models.TextField(_("last error"), blank=True)

    class Meta:
        db_table = "crowd_tags_job"
        verbose_name = _("crowd tag job")
        verbose_name_plural = _("crowd tag jobs")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stat_start_time__isnull=True)
                | models.Q(stat_end_time__isnull=True)
                | models.Q(stat_end_time__gt=models.F("stat_start_time")),
                name="crowd_tag_job_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.batch_id

    @property
    def percent(self) -> int | None:
        """Share of the users processed, 0-100; None until the job has counted its users."""
        if self.status == self.Status.DONE:
            return 100
        if not self.total:
            return None
        return min(100, self.progress * 100 // self.total)
