from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import FileExtensionValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from apps.activities.discounts import InvalidExpression, discount_strategies
from apps.common.models import TimeStampedModel
from apps.common.money import MONEY_FIELD

# Raster formats only: an uploaded SVG is served from our origin and could carry script.
IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "gif", "webp")
IMAGE_MAX_BYTES = 2 * 1024 * 1024
_IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


def validate_image_bytes(upload: File) -> None:
    """At most 2 MB, and the first bytes a PNG, JPEG, GIF or WebP header (Pillow is not a dependency)."""
    if (getattr(upload, "size", 0) or 0) > IMAGE_MAX_BYTES:
        raise ValidationError(_("The image may be at most 2 MB."), code="image_too_large")
    position = upload.tell() if hasattr(upload, "tell") else 0
    upload.seek(0)
    head = upload.read(12)
    upload.seek(position)
    is_webp = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if not (is_webp or any(head.startswith(signature) for signature in _IMAGE_SIGNATURES)):
        raise ValidationError(_("Upload a PNG, JPEG, GIF or WebP image."), code="invalid_image")


class Sku(TimeStampedModel):
    goods_id = models.CharField(_("goods id"), max_length=32, unique=True)
    source = models.CharField(_("source"), max_length=16)
    channel = models.CharField(_("channel"), max_length=16)
    goods_name = models.CharField(_("goods name"), max_length=128)
    original_price = models.DecimalField(_("original price"), **MONEY_FIELD)
    description = models.CharField(_("short description"), max_length=280, blank=True)
    # Uploaded in admin, served from MEDIA_URL. Empty: the shop shows static/img/goods/<goods id>.svg when
    # the demo ships one, else a placeholder (apps/activities/selectors.py: sku_image_url).
    image = models.FileField(
        _("image"),
        upload_to="goods/",
        blank=True,
        validators=[FileExtensionValidator(IMAGE_EXTENSIONS), validate_image_bytes],
        help_text=_("PNG, JPEG, GIF or WebP, shown on the product list and page."),
    )

    class Meta:
        db_table = "sku"
        verbose_name = _("SKU")
        verbose_name_plural = _("SKUs")
        constraints = [
            models.CheckConstraint(condition=Q(original_price__gt=Decimal("0")), name="sku_original_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.goods_name} ({self.goods_id})"


class Discount(TimeStampedModel):
    class DiscountType(models.IntegerChoices):
        BASE = 0, _("base (everyone)")
        TAG = 1, _("tag only (members of the crowd tag)")

    class MarketPlan(models.TextChoices):
        ZJ = "ZJ", _("ZJ: fixed amount off")
        MJ = "MJ", _("MJ: spend X get Y off")
        ZK = "ZK", _("ZK: percentage")
        N = "N", _("N: pay N yuan")

    discount_id = models.CharField(_("discount id"), max_length=32, unique=True)
    discount_name = models.CharField(_("discount name"), max_length=64)
    discount_desc = models.CharField(_("description"), max_length=256, blank=True)
    discount_type = models.PositiveSmallIntegerField(
        _("discount type"), choices=DiscountType.choices, default=DiscountType.BASE
    )
    market_plan = models.CharField(_("market plan"), max_length=4, choices=MarketPlan.choices)
    market_expr = models.CharField(
        _("market expression"),
        max_length=64,
        help_text=_(
            'ZJ: amount off, e.g. "20"; MJ: "threshold,minus", e.g. "100,10"; ZK: ratio in (0,1], '
            'e.g. "0.8"; N: price to pay, e.g. "1.99".'
        ),
    )
    tag = models.ForeignKey(
        "tags.CrowdTag",
        on_delete=models.PROTECT,
        to_field="tag_id",
        db_column="tag_id",
        null=True,
        blank=True,
        related_name="discounts",
        verbose_name=_("crowd tag"),
    )

    class Meta:
        db_table = "group_buy_discount"
        verbose_name = _("discount")
        verbose_name_plural = _("discounts")
        constraints = [
            models.CheckConstraint(
                condition=Q(market_plan__in=["ZJ", "MJ", "ZK", "N"]), name="discount_market_plan_known"
            ),
            models.CheckConstraint(
                condition=Q(discount_type=0) | Q(tag__isnull=False), name="discount_tag_type_has_tag"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.discount_name} ({self.market_plan} {self.market_expr})"

    def clean(self) -> None:
        strategy = discount_strategies.get(self.market_plan)
        if strategy is not None:
            try:
                strategy.parse(self.market_expr or "")
            except InvalidExpression as exc:
                raise ValidationError({"market_expr": str(exc)}) from None
        if self.discount_type == self.DiscountType.TAG and not self.tag_id:
            raise ValidationError({"tag": _("A tag-only discount needs a crowd tag.")})


class Activity(TimeStampedModel):
    class GroupType(models.IntegerChoices):
        AUTO_FORM = 0, _("auto-form at expiry with whoever paid")
        TARGET_REQUIRED = 1, _("target required, otherwise fail and refund")

    class Status(models.IntegerChoices):
        CREATED = 0, _("created")
        EFFECTIVE = 1, _("effective")
        EXPIRED = 2, _("expired")
        ABANDONED = 3, _("abandoned")

    class TagScope(models.TextChoices):
        VISIBLE = "1", _("restrict visibility")
        ENABLE = "2", _("restrict joining")
        BOTH = "1,2", _("restrict visibility and joining")

    activity_id = models.PositiveBigIntegerField(_("activity id"), unique=True)
    activity_name = models.CharField(_("activity name"), max_length=128)
    discount = models.ForeignKey(
        Discount,
        on_delete=models.PROTECT,
        to_field="discount_id",
        db_column="discount_id",
        related_name="activities",
        verbose_name=_("discount"),
    )
    group_type = models.PositiveSmallIntegerField(
        _("group type"), choices=GroupType.choices, default=GroupType.TARGET_REQUIRED
    )
    take_limit_count = models.PositiveIntegerField(
        _("take limit per user"), default=1, validators=[MinValueValidator(1)]
    )
    target = models.PositiveIntegerField(_("team size"), default=3, validators=[MinValueValidator(1)])
    valid_time = models.PositiveIntegerField(
        _("team validity (minutes)"), default=15, validators=[MinValueValidator(1)]
    )
    status = models.PositiveSmallIntegerField(_("status"), choices=Status.choices, default=Status.CREATED)
    start_time = models.DateTimeField(_("start time"))
    end_time = models.DateTimeField(_("end time"))
    tag = models.ForeignKey(
        "tags.CrowdTag",
        on_delete=models.PROTECT,
        to_field="tag_id",
        db_column="tag_id",
        null=True,
        blank=True,
        related_name="activities",
        verbose_name=_("crowd tag"),
    )
    tag_scope = models.CharField(_("tag scope"), max_length=8, choices=TagScope.choices, blank=True)
    # Growth settings (issue 17): each optional, each off or neutral by default.
    expiry_reminder_minutes = models.PositiveSmallIntegerField(
        _("expiry reminder (minutes before)"),
        default=5,
        help_text=_("Members of a team with seats left are reminded this many minutes before it expires; 0: never."),
    )
    auto_form_percent = models.PositiveSmallIntegerField(
        _("auto-form threshold (%)"),
        default=0,
        validators=[MaxValueValidator(100)],
        help_text=_(
            "Auto-form activities only: at its deadline a team forms when at least this share of its seats is paid "
            "(0: any paid member); the seats left are filled as virtual seats."
        ),
    )
    leader_discount = models.ForeignKey(
        Discount,
        on_delete=models.PROTECT,
        to_field="discount_id",
        db_column="leader_discount_id",
        null=True,
        blank=True,
        related_name="leader_activities",
        verbose_name=_("leader discount"),
        help_text=_("An extra discount for whoever opens a team, applied after the activity's discount."),
    )
    new_customers_only = models.BooleanField(
        _("joiners must be new customers"),
        default=False,
        help_text=_("Only users without a paid order before may join a team; anyone may open one."),
    )
    max_teams_formed = models.PositiveIntegerField(
        _("teams that may form"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("At most this many teams form; then the offer is sold out. Empty: no limit."),
    )

    class Meta:
        db_table = "group_buy_activity"
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [models.Index(fields=["status", "end_time"], name="idx_activity_status_end")]
        constraints = [
            models.CheckConstraint(condition=Q(end_time__gt=F("start_time")), name="activity_end_after_start"),
            models.CheckConstraint(condition=Q(target__gte=1), name="activity_target_positive"),
            models.CheckConstraint(condition=Q(valid_time__gte=1), name="activity_valid_time_positive"),
            models.CheckConstraint(condition=Q(take_limit_count__gte=1), name="activity_take_limit_positive"),
            models.CheckConstraint(condition=Q(status__in=[0, 1, 2, 3]), name="activity_status_known"),
            models.CheckConstraint(condition=Q(group_type__in=[0, 1]), name="activity_group_type_known"),
            models.CheckConstraint(condition=Q(auto_form_percent__lte=100), name="activity_auto_form_percent_range"),
            models.CheckConstraint(
                condition=Q(max_teams_formed__isnull=True) | Q(max_teams_formed__gte=1),
                name="activity_max_teams_formed_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.activity_name} ({self.activity_id})"

    def clean(self) -> None:
        errors = {}
        if self.start_time and self.end_time and self.end_time <= self.start_time:
            errors["end_time"] = _("The end time must be after the start time.")
        if self.tag_scope and not self.tag_id:
            errors["tag"] = _("A tag scope needs a crowd tag.")
        if errors:
            raise ValidationError(errors)


class ScSkuActivity(TimeStampedModel):
    """Which activity a SKU is sold under on one (source, channel): at most one per channel."""

    source = models.CharField(_("source"), max_length=16)
    channel = models.CharField(_("channel"), max_length=16)
    sku = models.ForeignKey(
        Sku,
        on_delete=models.CASCADE,
        to_field="goods_id",
        db_column="goods_id",
        related_name="channel_activities",
        verbose_name=_("SKU"),
    )
    activity = models.ForeignKey(
        Activity,
        on_delete=models.CASCADE,
        to_field="activity_id",
        db_column="activity_id",
        related_name="channel_skus",
        verbose_name=_("activity"),
    )

    class Meta:
        db_table = "sc_sku_activity"
        verbose_name = _("channel SKU activity")
        verbose_name_plural = _("channel SKU activities")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "channel", "sku"],
                name="uniq_sc_sku_activity",
                violation_error_message=_("This SKU is already mapped to an activity on this source and channel."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source}/{self.channel} {self.sku_id} → {self.activity_id}"
