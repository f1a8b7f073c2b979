from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from apps.common.models import TimeStampedModel
from apps.common.money import MONEY_FIELD
from apps.notifications.models import NotifyType  # a team's callback channel is the outbox's transport
from apps.trade.statuses import LIVE_ORDER_STATUSES as LIVE_ORDER_STATUSES  # re-exported
from apps.trade.statuses import OrderStatus


def _price_constraints(prefix: str) -> list[models.CheckConstraint]:
    """Prices are never negative and always add up: original = deduction + pay."""
    return [
        models.CheckConstraint(
            condition=Q(
                original_price__gte=Decimal("0"), deduction_price__gte=Decimal("0"), pay_price__gte=Decimal("0")
            ),
            name=f"{prefix}_prices_non_negative",
        ),
        models.CheckConstraint(
            condition=Q(original_price=F("deduction_price") + F("pay_price")), name=f"{prefix}_prices_add_up"
        ),
    ]


class Team(TimeStampedModel):
    """One group being formed (table ``group_buy_order``). Seats: lock → complete (paid)."""

    class Status(models.IntegerChoices):
        IN_PROGRESS = 0, _("in progress")
        COMPLETE = 1, _("complete")
        FAILED = 2, _("failed")
        COMPLETE_WITH_REFUND = 3, _("complete with refund")

    team_id = models.CharField(_("team id"), max_length=8, unique=True)
    activity = models.ForeignKey(
        "activities.Activity",
        on_delete=models.PROTECT,
        to_field="activity_id",
        db_column="activity_id",
        related_name="teams",
        verbose_name=_("activity"),
    )
    source = models.CharField(_("source"), max_length=16)
    channel = models.CharField(_("channel"), max_length=16)
    original_price = models.DecimalField(_("original price"), **MONEY_FIELD)
    deduction_price = models.DecimalField(_("deduction"), **MONEY_FIELD)
    pay_price = models.DecimalField(_("pay price"), **MONEY_FIELD)
    target_count = models.PositiveIntegerField(_("target"))
    complete_count = models.PositiveIntegerField(_("paid seats"), default=0)
    lock_count = models.PositiveIntegerField(_("locked seats"), default=0)
    # Seats filled at the deadline by an auto-form threshold (Activity.auto_form_percent): never a shopper.
    virtual_count = models.PositiveIntegerField(_("virtual seats"), default=0)
    # When the team formed (settlement of the last seat, or auto-form at its deadline): time-to-fill.
    formed_at = models.DateTimeField(_("formed at"), null=True, blank=True)
    status = models.PositiveSmallIntegerField(_("status"), choices=Status.choices, default=Status.IN_PROGRESS)
    valid_start_time = models.DateTimeField(_("valid from"))
    valid_end_time = models.DateTimeField(_("valid until"))
    notify_type = models.CharField(_("notify type"), max_length=8, choices=NotifyType.choices, default=NotifyType.HTTP)
    notify_url = models.CharField(_("notify URL"), max_length=512, blank=True)

    class Meta:
        db_table = "group_buy_order"
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        indexes = [
            models.Index(fields=["activity", "status", "valid_end_time"], name="idx_team_activity_status"),
            models.Index(fields=["status", "valid_end_time"], name="idx_team_status_valid_end"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(complete_count__gte=0)
                & Q(complete_count__lte=F("lock_count"))
                & Q(lock_count__lte=F("target_count")),
                name="team_counts_ordered",
            ),
            models.CheckConstraint(condition=Q(target_count__gte=1), name="team_target_positive"),
            models.CheckConstraint(
                condition=Q(virtual_count__gte=0) & Q(complete_count__lte=F("target_count") - F("virtual_count")),
                name="team_virtual_seats_fit",
            ),
            models.CheckConstraint(condition=Q(status__in=[0, 1, 2, 3]), name="team_status_known"),
            models.CheckConstraint(condition=Q(valid_end_time__gt=F("valid_start_time")), name="team_valid_window"),
            models.CheckConstraint(condition=Q(notify_type__in=["HTTP", "MQ"]), name="team_notify_type_known"),
            *_price_constraints("team"),
        ]

    def __str__(self) -> str:
        return self.team_id


class Order(TimeStampedModel):
    """One user's seat in a team (table ``group_buy_order_list``), tied to the mall's out_trade_no."""

    Status = OrderStatus  # apps/trade/statuses.py: importable without the app registry

    order_id = models.CharField(_("order id"), max_length=12, unique=True)
    user_id = models.CharField(_("user id"), max_length=64)
    team = models.ForeignKey(
        Team,
        on_delete=models.PROTECT,
        to_field="team_id",
        db_column="team_id",
        related_name="orders",
        verbose_name=_("team"),
    )
    activity = models.ForeignKey(
        "activities.Activity",
        on_delete=models.PROTECT,
        to_field="activity_id",
        db_column="activity_id",
        related_name="orders",
        verbose_name=_("activity"),
    )
    sku = models.ForeignKey(
        "activities.Sku",
        on_delete=models.PROTECT,
        to_field="goods_id",
        db_column="goods_id",
        related_name="orders",
        verbose_name=_("SKU"),
    )
    source = models.CharField(_("source"), max_length=16)
    channel = models.CharField(_("channel"), max_length=16)
    original_price = models.DecimalField(_("original price"), **MONEY_FIELD)
    deduction_price = models.DecimalField(_("deduction"), **MONEY_FIELD)
    pay_price = models.DecimalField(_("pay price"), **MONEY_FIELD)
    status = models.PositiveSmallIntegerField(_("status"), choices=Status.choices, default=Status.LOCKED)
    out_trade_no = models.CharField(_("mall order number"), max_length=64)
    out_trade_time = models.DateTimeField(_("paid at"), null=True, blank=True)
    # "{activity_id}_{user_id}_{n}": unique per channel (uniq_order_biz_id), so a user's concurrent duplicate
    # locks collide while another channel's user of the same name is someone else.
    biz_id = models.CharField(_("business id"), max_length=128)

    class Meta:
        db_table = "group_buy_order_list"
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [
            models.Index(fields=["user_id", "activity"], name="idx_order_user_activity"),
            models.Index(fields=["team", "status"], name="idx_order_team_status"),
            models.Index(fields=["status", "create_time"], name="idx_order_status_created"),
            models.Index(fields=["status", "out_trade_time"], name="idx_order_status_paid_at"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source", "channel", "out_trade_no"], name="uniq_order_out_trade_no"),
            models.UniqueConstraint(fields=["source", "channel", "biz_id"], name="uniq_order_biz_id"),
            models.CheckConstraint(condition=Q(status__in=[0, 1, 2]), name="order_status_known"),
            *_price_constraints("order"),
        ]

    def __str__(self) -> str:
        return self.order_id


class FormationQuota(TimeStampedModel):
    """An activity's team limit at work (``Activity.max_teams_formed``; ``apps.trade.limits``): the teams holding
    one of its formation slots, open or formed. One row per limited activity, seeded from the teams when first
    needed, dropped when the activity is saved (so a changed limit starts from the teams as they are)."""

    activity = models.OneToOneField(
        "activities.Activity",
        on_delete=models.CASCADE,
        to_field="activity_id",
        db_column="activity_id",
        related_name="formation_quota",
        verbose_name=_("activity"),
    )
    reserved = models.PositiveIntegerField(_("teams holding a slot"), default=0)

    class Meta:
        db_table = "activity_formation_quota"
        verbose_name = _("formation quota")
        verbose_name_plural = _("formation quotas")
        constraints = [models.CheckConstraint(condition=Q(reserved__gte=0), name="formation_quota_non_negative")]

    def __str__(self) -> str:
        return f"{self.activity_id}: {self.reserved}"


class DailyTakes(TimeStampedModel):
    """Seats one user of one channel locked on one day (``ChannelCredential.daily_take_limit``;
    ``apps.trade.limits``). The day is the local date in ``settings.TIME_ZONE``."""

    source = models.CharField(_("source"), max_length=16)
    channel = models.CharField(_("channel"), max_length=16)
    user_id = models.CharField(_("user id"), max_length=64)
    day = models.DateField(_("day"))
    takes = models.PositiveIntegerField(_("takes"), default=0)

    class Meta:
        db_table = "user_daily_takes"
        verbose_name = _("daily takes")
        verbose_name_plural = _("daily takes")
        constraints = [
            models.UniqueConstraint(fields=["source", "channel", "user_id", "day"], name="uniq_daily_takes"),
            models.CheckConstraint(condition=Q(takes__gte=0), name="daily_takes_non_negative"),
        ]
        indexes = [models.Index(fields=["day"], name="idx_daily_takes_day")]

    def __str__(self) -> str:
        return f"{self.source}/{self.channel} {self.user_id} {self.day}: {self.takes}"
