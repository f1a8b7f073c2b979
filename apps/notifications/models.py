import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.common.models import TimeStampedModel


class NotifyType(models.TextChoices):
    """How a callback travels (a transport of this outbox); a team names one for its callbacks."""

    HTTP = "HTTP", _("HTTP callback")
    MQ = "MQ", _("message queue")


class NotifyTask(TimeStampedModel):
    """Transactional outbox row: a callback to deliver over HTTP or MQ, written with the state change.

    Generic: it holds plain values (ids, channel, target), never a reference to the trade rows it is about.
    """

    class Category(models.TextChoices):
        TRADE_SETTLEMENT = "trade_settlement", _("team completed")
        TRADE_UNPAID2REFUND = "trade_unpaid2refund", _("unpaid lock released")
        TRADE_PAID2REFUND = "trade_paid2refund", _("paid, team not formed, refunded")
        TRADE_PAID_TEAM2REFUND = "trade_paid_team2refund", _("paid, team formed, refunded")
        TEAM_EXPIRING = "team_expiring", _("team about to expire")

    class Status(models.IntegerChoices):
        NEW = 0, _("new")
        DONE = 1, _("delivered")
        RETRY = 2, _("retrying")
        FAILED = 3, _("failed")

    uuid = models.UUIDField(_("task uuid"), default=uuid.uuid4, unique=True, editable=False)
    activity_id = models.PositiveBigIntegerField(_("activity id"))
    team_id = models.CharField(_("team id"), max_length=8)
    source = models.CharField(_("source"), max_length=16, blank=True)
    channel = models.CharField(_("channel"), max_length=16, blank=True)
    notify_category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    notify_type = models.CharField(_("notify type"), max_length=8, choices=NotifyType.choices)
    notify_mq = models.CharField(_("routing key"), max_length=64, blank=True)
    notify_url = models.CharField(_("notify URL"), max_length=512, blank=True)
    notify_count = models.PositiveIntegerField(_("attempts"), default=0)
    notify_status = models.PositiveSmallIntegerField(_("status"), choices=Status.choices, default=Status.NEW)
    parameter_json = models.JSONField(_("payload"))
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    # A deliverer claims a task until this time, so two deliverers never send it at once.
    leased_until = models.DateTimeField(_("leased until"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        db_table = "notify_task"
        verbose_name = _("notify task")
        verbose_name_plural = _("notify tasks")
        indexes = [models.Index(fields=["notify_status", "next_attempt_at"], name="idx_notify_due")]
        constraints = [
            models.CheckConstraint(condition=Q(notify_status__in=[0, 1, 2, 3]), name="notify_status_known"),
            models.CheckConstraint(
                condition=Q(notify_type="MQ", notify_mq__gt="") | Q(notify_type="HTTP", notify_url__gt=""),
                name="notify_target_present",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.notify_category} {self.team_id} ({self.uuid})"


class ProcessedMessage(models.Model):
    """A consumer's record of a message it applied: at-least-once delivery, exactly-once effect."""

    consumer = models.CharField(_("consumer"), max_length=64)
    message_uuid = models.CharField(_("message uuid"), max_length=64)
    processed_at = models.DateTimeField(_("processed at"), auto_now_add=True)

    class Meta:
        db_table = "notify_processed_message"
        verbose_name = _("processed message")
        verbose_name_plural = _("processed messages")
        constraints = [
            models.UniqueConstraint(fields=["consumer", "message_uuid"], name="uniq_processed_message"),
        ]

    def __str__(self) -> str:
        return f"{self.consumer}:{self.message_uuid}"


class InboxMessage(TimeStampedModel):
    """One message to one shopper in the in-site inbox (table ``inbox_message``).

    It stores what happened (``kind``) and the values to say it with (``params``), never the text: the text is
    rendered when it is read (``apps.notifications.texts``), in the reader's language. The unique key
    (user, team, kind) is the at-most-once gate of every reminder (``apps.notifications.inbox``).
    """

    class Kind(models.TextChoices):
        TEAM_FORMED = "team_formed", _("team formed")
        TEAM_FAILED = "team_failed", _("team failed, refunded")
        TEAM_EXPIRING = "team_expiring", _("team about to expire")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbox_messages", verbose_name=_("user")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    team_id = models.CharField(_("team id"), max_length=8)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        db_table = "inbox_message"
        verbose_name = _("inbox message")
        verbose_name_plural = _("inbox messages")
        indexes = [models.Index(fields=["user", "read_at"], name="idx_inbox_user_read")]
        constraints = [
            models.UniqueConstraint(fields=["user", "team_id", "kind"], name="uniq_inbox_user_team_kind"),
            models.CheckConstraint(
                condition=Q(kind__in=["team_formed", "team_failed", "team_expiring"]), name="inbox_kind_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.team_id} → {self.user_id}"


class TeamReminder(models.Model):
    """A team event already announced, once per team and kind (table ``team_reminder``): the gate of the
    per-team reminders (formed; about to expire, with its mall callback), so that a job running twice, or two
    jobs at once, announce it once."""

    team_id = models.CharField(_("team id"), max_length=8)
    kind = models.CharField(_("kind"), max_length=16, choices=InboxMessage.Kind.choices)
    create_time = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "team_reminder"
        verbose_name = _("team reminder")
        verbose_name_plural = _("team reminders")
        constraints = [models.UniqueConstraint(fields=["kind", "team_id"], name="uniq_team_reminder_kind_team")]

    def __str__(self) -> str:
        return f"{self.kind} {self.team_id}"
