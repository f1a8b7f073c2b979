"""The mall's orders, refunds and sandbox trades in admin (read-only), and what payments adds to the
trade order admin: a link to the mall order and its refund records, and the staff user on the refund
record of a staff refund (``apps.trade.admin`` hooks; payments depends on trade, not the reverse)."""

from django.conf import settings
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.common.admin import ReadOnlyAdmin, ReplicaChangelistMixin
from apps.payments.gateways.sandbox import sandbox_notify_resend
from apps.payments.models import PayOrder, RefundRecord, SandboxTrade
from apps.payments.refunds import mall_refund_operator_record
from apps.trade import admin as trade_admin
from apps.trade.models import Order
from apps.trade.refund import RefundOutcome


def _is_mall_order(order: Order) -> bool:
    """Only the built-in mall's channel numbers its orders with PayOrder ids; other malls' may collide."""
    return (order.source, order.channel) == (settings.MALL_SOURCE, settings.MALL_CHANNEL)


def mall_order_links(order: Order) -> list[tuple[str, str]]:
    if not _is_mall_order(order):
        return []
    pay_order = PayOrder.objects.filter(order_id=order.out_trade_no).only("pk").first()
    if pay_order is None:
        return []
    return [
        (_("mall order %(order)s") % {"order": order.out_trade_no},
         reverse("admin:payments_payorder_change", args=[pay_order.pk])),
        (_("refund records of mall order %(order)s") % {"order": order.out_trade_no},
         f"{reverse('admin:payments_refundrecord_changelist')}?pay_order__exact={order.out_trade_no}"),
    ]  # fmt: skip


def record_refund_operator(order: Order, user, outcome: RefundOutcome) -> None:
    if _is_mall_order(order):
        mall_refund_operator_record(
            order_id=order.out_trade_no, operator=user, reason=f"refunded by staff ({outcome.strategy})"
        )


trade_admin.ORDER_LINKS.append(mall_order_links)
trade_admin.STAFF_REFUND_LISTENERS.append(record_refund_operator)


@admin.register(PayOrder)
class PayOrderAdmin(ReplicaChangelistMixin, ReadOnlyAdmin):
    list_display = ("order_id", "user", "product_name", "status", "pay_amount", "team_id", "order_time")
    list_filter = ("status", "market_type", "refund_required")
    search_fields = ("order_id", "user__username", "product_id", "team_id", "trade_no")
    date_hierarchy = "order_time"
    list_select_related = ("user",)


@admin.register(RefundRecord)
class RefundRecordAdmin(ReadOnlyAdmin):
    list_display = ("out_request_no", "pay_order", "amount", "status", "refunded_by", "refunded_at")
    list_filter = ("status",)
    search_fields = ("out_request_no", "pay_order__order_id", "operator__username")
    list_select_related = ("operator",)
    fields = (
        "out_request_no", "pay_order", "amount", "status", "refunded_by", "reason", "attempts", "refunded_at",
        "gateway_response", "create_time", "update_time",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description=_("refunded by"), ordering="operator__username")
    def refunded_by(self, record: RefundRecord) -> str | Promise:
        if record.operator is None:
            return _("automatic (team failed or shopper)")
        return record.operator.get_username()


@admin.register(SandboxTrade)
class SandboxTradeAdmin(ReadOnlyAdmin):
    list_display = ("trade_no", "out_trade_no", "total_amount", "paid_at", "notify_status", "notify_attempts")
    list_filter = ("notify_status",)
    search_fields = ("trade_no", "out_trade_no")
    actions = ["resend_notify"]

    def has_resend_permission(self, request) -> bool:
        """Re-sending moves money state (the notify pays the order): change, not view (rows stay read-only)."""
        return request.user.has_perm("payments.change_sandboxtrade")

    @admin.action(description=_("Send the notify again"), permissions=["resend"])
    def resend_notify(self, request, queryset) -> None:
        count = sandbox_notify_resend(trade_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            ngettext("%(count)d notify queued again.", "%(count)d notifies queued again.", count) % {"count": count},
            messages.SUCCESS,
        )
