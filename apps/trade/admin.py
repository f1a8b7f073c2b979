from django.contrib import admin

from apps.common.admin import ReadOnlyAdmin
from apps.trade.models import Order, Team


class OrderInline(admin.TabularInline):
    model = Order
    extra = 0
    can_delete = False
    fields = ("order_id", "user_id", "status", "pay_price", "out_trade_no", "out_trade_time")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Team)
class TeamAdmin(ReadOnlyAdmin):
    list_display = (
        "team_id",
        "activity",
        "status",
        "lock_count",
        "complete_count",
        "target_count",
        "valid_end_time",
        "notify_type",
    )
    list_filter = ("status", "notify_type", "source", "channel")
    search_fields = ("team_id", "activity__activity_id")
    date_hierarchy = "create_time"
    inlines = [OrderInline]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = (
        "order_id",
        "user_id",
        "team",
        "activity",
        "sku",
        "status",
        "pay_price",
        "out_trade_no",
        "create_time",
    )
    list_filter = ("status", "source", "channel")
    search_fields = ("order_id", "user_id", "out_trade_no", "team__team_id")
    date_hierarchy = "create_time"
