from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.common.models import TimeStampedModel
from apps.common.money import MONEY_FIELD


class PayOrder(TimeStampedModel):
    """The built-in mall's own order; its ``order_id`` is the group-buy ``out_trade_no``."""

    class Status(models.TextChoices):
        CREATE = "CREATE", _("created")
        PAY_WAIT = "PAY_WAIT", _("waiting for payment")
        PAY_SUCCESS = "PAY_SUCCESS", _("paid")
        DEAL_DONE = "DEAL_DONE", _("deal done (team complete)")
        CLOSE = "CLOSE", _("closed")

    class MarketType(models.IntegerChoices):
        NONE = 0, _("no marketing")
        GROUP_BUY = 1, _("group buy")

    order_id = models.CharField(_("order id"), max_length=32, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        db_column="user_id",
        related_name="pay_orders",
        verbose_name=_("user"),
    )
    product_id = models.CharField(_("product id"), max_length=32)
    product_name = models.CharField(_("product name"), max_length=128)
    order_time = models.DateTimeField(_("ordered at"))
    total_amount = models.DecimalField(_("total amount"), **MONEY_FIELD)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.CREATE)
    # Alipay's signed page-pay URL (sign + URL-encoded biz_content) runs past 1 KB.
    pay_url = models.CharField(_("pay URL"), max_length=2048, blank=True)
    pay_time = models.DateTimeField(_("paid at"), null=True, blank=True)
    market_type = models.PositiveSmallIntegerField(
        _("market type"), choices=MarketType.choices, default=MarketType.NONE
    )
    market_deduction_amount = models.DecimalField(_("deduction"), default=Decimal("0.00"), **MONEY_FIELD)
    pay_amount = models.DecimalField(_("pay amount"), **MONEY_FIELD)
    # The team to join while CREATE (blank: open one); the team actually locked from PAY_WAIT on.
    team_id = models.CharField(_("team id"), max_length=8, blank=True)
    # NULL when the client sent none: NULLs never collide in the unique key below (MariaDB ignores
    # conditional unique constraints, so "unique when not blank" is expressed this way).
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, null=True, blank=True)  # noqa: DJ001
    trade_no = models.CharField(_("gateway trade no"), max_length=64, blank=True)
    # The group-buy code that closed the order (lock rejection) or refused its settlement.
    market_code = models.CharField(_("group-buy code"), max_length=8, blank=True)
    # Paid but without a seat (settlement refused, or paid after closing): the money goes back.
    refund_required = models.BooleanField(_("refund required"), default=False)

    class Meta:
        db_table = "pay_order"
        verbose_name = _("mall order")
        verbose_name_plural = _("mall orders")
        indexes = [
            models.Index(fields=["user", "status"], name="idx_pay_order_user_status"),
            models.Index(fields=["status", "order_time"], name="idx_pay_order_status_time"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["user", "idempotency_key"], name="uniq_pay_order_user_idem_key"),
            models.CheckConstraint(
                condition=Q(
                    total_amount__gte=Decimal("0"),
                    pay_amount__gte=Decimal("0"),
                    market_deduction_amount__gte=Decimal("0"),
                ),
                name="pay_order_amounts_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(total_amount=F("market_deduction_amount") + F("pay_amount")),
                name="pay_order_amounts_add_up",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["CREATE", "PAY_WAIT", "PAY_SUCCESS", "DEAL_DONE", "CLOSE"]),
                name="pay_order_status_known",
            ),
        ]

    def __str__(self) -> str:
        return self.order_id


# Every status change of a mall order, from → allowed targets. ``pay_order_transition`` is the one
# place that writes ``status``; the flows (orders.py, notify.py, refunds.py) name the change they make.
#   CREATE → PAY_WAIT      seat locked (or bought alone), pay URL written          orders.py
#   CREATE → CLOSE         lock refused; not paid in time; cancelled                orders.py, refunds.py
#   PAY_WAIT → PAY_SUCCESS the gateway's notify: paid                               notify.py
#   PAY_WAIT → CLOSE       not paid in time; cancelled                              orders.py, refunds.py
#   PAY_SUCCESS → DEAL_DONE team complete, or bought alone and paid                 orders.py, notify.py
#   PAY_SUCCESS, DEAL_DONE → CLOSE   the money went back through the gateway        refunds.py
#   CLOSE → CLOSE          a closed order's late payment went back (flag cleared)   refunds.py
PAY_ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    PayOrder.Status.CREATE: frozenset({PayOrder.Status.PAY_WAIT, PayOrder.Status.CLOSE}),
    PayOrder.Status.PAY_WAIT: frozenset({PayOrder.Status.PAY_SUCCESS, PayOrder.Status.CLOSE}),
    PayOrder.Status.PAY_SUCCESS: frozenset({PayOrder.Status.DEAL_DONE, PayOrder.Status.CLOSE}),
    PayOrder.Status.DEAL_DONE: frozenset({PayOrder.Status.CLOSE}),
    PayOrder.Status.CLOSE: frozenset({PayOrder.Status.CLOSE}),
}


class PayOrderTransitionError(ValueError):
    """A status change the table does not allow was asked for: a programming error, never a shopper's."""


def pay_order_transition(rows: Q, *, to: str, from_: Iterable[str] | None = None, **fields: Any) -> int:
    """Move the orders matching ``rows`` that are in ``from_`` to ``to``; returns how many moved.

    One conditional UPDATE (``status IN from_`` repeated in the WHERE), so racing callers change a
    row once and a row in any other state is left alone (0). ``from_`` defaults to every state the
    table lets reach ``to``; a ``from_`` the table refuses raises ``PayOrderTransitionError``.
    ``fields`` are written with the status (``update_time`` defaults to now).
    """
    allowed = frozenset(state for state, targets in PAY_ORDER_TRANSITIONS.items() if to in targets)
    sources = allowed if from_ is None else frozenset(from_)
    refused = sources - allowed
    if refused or not sources:
        raise PayOrderTransitionError(f"pay_order: {sorted(refused) or 'no state'} → {to} is not allowed")
    fields.setdefault("update_time", timezone.now())
    return PayOrder.objects.filter(rows, status__in=sources).update(status=to, **fields)


class RefundRecord(TimeStampedModel):
    """A gateway refund request; ``out_request_no`` makes retries idempotent at the gateway."""

    class Status(models.TextChoices):
        PENDING = "PENDING", _("pending")
        SUCCESS = "SUCCESS", _("refunded")
        FAILED = "FAILED", _("failed")

    out_request_no = models.CharField(_("refund request no"), max_length=64, unique=True)
    pay_order = models.ForeignKey(
        PayOrder,
        on_delete=models.PROTECT,
        to_field="order_id",
        db_column="order_id",
        related_name="refunds",
        verbose_name=_("mall order"),
    )
    amount = models.DecimalField(_("amount"), **MONEY_FIELD)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(_("reason"), max_length=256, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    gateway_response = models.JSONField(_("gateway response"), default=dict, blank=True)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("operator"),
    )
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)

    class Meta:
        db_table = "pay_refund"
        verbose_name = _("refund record")
        verbose_name_plural = _("refund records")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=Decimal("0")), name="pay_refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["PENDING", "SUCCESS", "FAILED"]), name="pay_refund_status_known"
            ),
        ]

    def __str__(self) -> str:
        return self.out_request_no


class SandboxTrade(TimeStampedModel):
    """The built-in sandbox gateway's own record of a payment (what Alipay keeps on its side).

    One per mall order (``out_trade_no``); its asynchronous notify is retried like a real gateway's
    until the mall answers ``success``.
    """

    class NotifyStatus(models.TextChoices):
        PENDING = "PENDING", _("pending")
        DELIVERED = "DELIVERED", _("delivered")
        FAILED = "FAILED", _("failed")

    trade_no = models.CharField(_("trade no"), max_length=64, unique=True)
    out_trade_no = models.CharField(_("mall order id"), max_length=32, unique=True)
    app_id = models.CharField(_("app id"), max_length=64)
    subject = models.CharField(_("subject"), max_length=128)
    total_amount = models.DecimalField(_("amount"), **MONEY_FIELD)
    paid_at = models.DateTimeField(_("paid at"))
    notify_url = models.CharField(_("notify URL"), max_length=512)
    notify_id = models.CharField(_("notify id"), max_length=64)
    notify_status = models.CharField(
        _("notify status"), max_length=16, choices=NotifyStatus.choices, default=NotifyStatus.PENDING
    )
    notify_attempts = models.PositiveIntegerField(_("notify attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=512, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        db_table = "pay_sandbox_trade"
        verbose_name = _("sandbox payment")
        verbose_name_plural = _("sandbox payments")
        constraints = [
            models.CheckConstraint(condition=Q(total_amount__gt=Decimal("0")), name="pay_sandbox_amount_positive"),
            models.CheckConstraint(
                condition=Q(notify_status__in=["PENDING", "DELIVERED", "FAILED"]), name="pay_sandbox_notify_known"
            ),
        ]

    def __str__(self) -> str:
        return self.trade_no


class SandboxKey(TimeStampedModel):
    """The sandbox gateway's RSA key pair when none is configured: generated once per database,
    so the web and worker processes sign and verify with the same key."""

    name = models.CharField(_("name"), max_length=32, unique=True)
    private_key_pem = models.TextField(_("private key (PEM)"))
    public_key_pem = models.TextField(_("public key (PEM)"))

    class Meta:
        db_table = "pay_sandbox_key"
        verbose_name = _("sandbox key")
        verbose_name_plural = _("sandbox keys")

    def __str__(self) -> str:
        return self.name
