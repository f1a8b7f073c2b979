from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.common.admin import ReadOnlyAdmin, confirm_action
from apps.common.errors import GroupBuyError
from apps.trade.models import Order, Team
from apps.trade.services import order_refund


def refund_orders(modeladmin: admin.ModelAdmin, request, orders) -> None:
    """Refund each order as staff; every refund is recorded in the admin log under the staff user."""
    done, failed = 0, []
    for order in orders:
        try:
            outcome = order_refund(source=order.source, channel=order.channel, out_trade_no=order.out_trade_no)
        except GroupBuyError as exc:
            failed.append(f"{order.order_id}: {exc.info}")
            continue
        if not outcome.repeat:
            done += 1
            modeladmin.log_change(request, order, f"refunded by staff ({outcome.strategy})")
    modeladmin.message_user(
        request,
        ngettext("%(count)d order refunded.", "%(count)d orders refunded.", done) % {"count": done},
        messages.SUCCESS,
    )
    if failed:
        modeladmin.message_user(request, "; ".join(failed), messages.WARNING)


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
    actions = ["refund_members"]

    def has_refund_permission(self, request) -> bool:
        return request.user.is_superuser or request.user.has_perm("trade.change_order")

    @admin.action(description=_("Refund every member of the selected teams"), permissions=["refund"])
    def refund_members(self, request, queryset):
        page = confirm_action(self, request, queryset, action="refund_members",
                              question=_("Refund every live order of these teams?"))  # fmt: skip
        if page is not None:
            return page
        orders = Order.objects.filter(team__in=queryset, status__in=[Order.Status.LOCKED, Order.Status.PAID])
        refund_orders(self, request, orders)
        return None


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
    actions = ["refund"]

    def has_refund_permission(self, request) -> bool:
        return request.user.is_superuser or request.user.has_perm("trade.change_order")

    @admin.action(description=_("Refund the selected orders"), permissions=["refund"])
    def refund(self, request, queryset):
        page = confirm_action(self, request, queryset, action="refund",
                              question=_("Refund these orders? Paid orders get their money back."))  # fmt: skip
        if page is not None:
            return page
        refund_orders(self, request, queryset)
        return None
