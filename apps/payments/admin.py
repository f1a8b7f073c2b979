from django.contrib import admin

from apps.common.admin import ReadOnlyAdmin
from apps.payments.models import PayOrder, RefundRecord


@admin.register(PayOrder)
class PayOrderAdmin(ReadOnlyAdmin):
    list_display = ("order_id", "user", "product_name", "status", "total_amount", "pay_amount", "team_id", "order_time")
    list_filter = ("status", "market_type")
    search_fields = ("order_id", "user__username", "product_id", "team_id")
    date_hierarchy = "order_time"


@admin.register(RefundRecord)
class RefundRecordAdmin(ReadOnlyAdmin):
    list_display = ("out_request_no", "pay_order", "amount", "status", "attempts", "operator", "refunded_at")
    list_filter = ("status",)
    search_fields = ("out_request_no", "pay_order__order_id")
