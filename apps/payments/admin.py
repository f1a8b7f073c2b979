from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.common.admin import ReadOnlyAdmin
from apps.payments.gateways.sandbox import sandbox_notify_resend
from apps.payments.models import PayOrder, RefundRecord, SandboxTrade


@admin.register(PayOrder)
class PayOrderAdmin(ReadOnlyAdmin):
    list_display = (
        "order_id", "user", "product_name", "status", "total_amount", "pay_amount", "team_id", "refund_required",
        "market_code", "order_time",
    )  # fmt: skip
    list_filter = ("status", "market_type", "refund_required")
    search_fields = ("order_id", "user__username", "product_id", "team_id", "trade_no")
    date_hierarchy = "order_time"
    list_select_related = ("user",)


@admin.register(RefundRecord)
class RefundRecordAdmin(ReadOnlyAdmin):
    list_display = ("out_request_no", "pay_order", "amount", "status", "attempts", "operator", "refunded_at")
    list_filter = ("status",)
    search_fields = ("out_request_no", "pay_order__order_id")


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
