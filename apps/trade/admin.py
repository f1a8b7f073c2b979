"""Teams and orders in admin: short lists (leader, seats, deadline, status), staff refunds after a
confirmation page naming each order's shopper, goods and amount, and links from an order to what
other apps keep about it.

Apps that depend on trade (payments: the mall order and its refund records) plug in through
``ORDER_LINKS`` and ``STAFF_REFUND_LISTENERS`` from their own admin modules, so trade imports none of them.
"""

from collections.abc import Callable
from decimal import Decimal

from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.common.admin import ReadOnlyAdmin, ReplicaChangelistMixin, confirm_action
from apps.common.errors import GroupBuyError
from apps.trade.models import DailyTakes, FormationQuota, Order, Team
from apps.trade.refund import RefundOutcome, order_refund

# (order) -> [(label, admin url)]: shown on the order's page.
ORDER_LINKS: list[Callable[[Order], list[tuple[str, str]]]] = []
# (order, staff user, outcome) -> None: called after each staff refund that changed something.
STAFF_REFUND_LISTENERS: list[Callable[[Order, object, RefundOutcome], None]] = []


def _money(amount: Decimal) -> str:
    return f"¥{amount:.2f}"


def refund_details(orders) -> tuple[list, list]:
    """The confirmation table: what each order is, whose, and how much goes back."""
    headers = [_("order id"), _("shopper"), _("goods"), _("amount"), _("status")]
    rows = [
        [order.order_id, order.user_id, order.sku.goods_name, _money(order.pay_price), order.get_status_display()]
        for order in orders.select_related("sku").order_by("team_id", "id")
    ]
    return headers, rows


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
            for listener in STAFF_REFUND_LISTENERS:
                listener(order, request.user, outcome)
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


class VirtualSeatsFilter(admin.SimpleListFilter):
    """Teams that formed at their deadline with seats filled by the platform (Activity.auto_form_percent)."""

    title = _("filled by the platform")
    parameter_name = "virtual"

    def lookups(self, request, model_admin):
        return [("yes", _("with virtual seats")), ("no", _("without virtual seats"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(virtual_count__gt=0)
        if self.value() == "no":
            return queryset.filter(virtual_count=0)
        return queryset


@admin.register(Team)
class TeamAdmin(ReplicaChangelistMixin, ReadOnlyAdmin):
    list_display = ("team_id", "leader", "seats", "status", "valid_end_time", "activity_id")
    list_filter = ("status", VirtualSeatsFilter, "notify_type", "source", "channel")
    search_fields = ("team_id", "activity__activity_id")
    date_hierarchy = "create_time"
    inlines = [OrderInline]
    actions = ["refund_members"]

    def get_queryset(self, request):
        first_order = Order.objects.filter(team_id=OuterRef("team_id")).order_by("id").values("user_id")[:1]
        return super().get_queryset(request).annotate(leader_user_id=Subquery(first_order))

    @admin.display(description=_("leader"))
    def leader(self, team: Team) -> str:
        return getattr(team, "leader_user_id", None) or "—"

    @admin.display(description=_("paid / target"))
    def seats(self, team: Team) -> str:
        """The shoppers' paid seats; the seats an auto-form threshold filled at the deadline follow apart."""
        paid = f"{team.complete_count}/{team.target_count}"
        if not team.virtual_count:
            return paid
        return _("%(paid)s + %(virtual)d filled by the platform") % {"paid": paid, "virtual": team.virtual_count}

    def has_refund_permission(self, request) -> bool:
        return request.user.is_superuser or request.user.has_perm("trade.change_order")

    @admin.action(description=_("Refund every member of the selected teams"), permissions=["refund"])
    def refund_members(self, request, queryset):
        orders = Order.objects.filter(team__in=queryset, status__in=[Order.Status.LOCKED, Order.Status.PAID])
        page = confirm_action(self, request, queryset, action="refund_members",
                              question=_("Refund every live order of these teams?"),
                              details=refund_details(orders))  # fmt: skip
        if page is not None:
            return page
        refund_orders(self, request, orders)
        return None


@admin.register(Order)
class OrderAdmin(ReplicaChangelistMixin, ReadOnlyAdmin):
    list_display = ("order_id", "user_id", "team_id", "goods", "status", "pay_price", "create_time")
    list_filter = ("status", "source", "channel")
    search_fields = ("order_id", "user_id", "out_trade_no", "team__team_id")
    list_select_related = ("sku",)
    date_hierarchy = "create_time"
    readonly_fields = ("related",)
    actions = ["refund"]

    @admin.display(description=_("goods"))
    def goods(self, order: Order) -> str:
        return order.sku.goods_name

    @admin.display(description=_("related records"))
    def related(self, order: Order) -> str:
        links = [
            (_("team %(team)s") % {"team": order.team_id}, reverse("admin:trade_team_change", args=[order.team.pk])),
            *(link for provider in ORDER_LINKS for link in provider(order)),
            (
                _("callback tasks of team %(team)s") % {"team": order.team_id},
                f"{reverse('admin:notifications_notifytask_changelist')}?team_id={order.team_id}",
            ),
        ]
        return format_html(
            "<ul>{}</ul>", format_html_join("", '<li><a href="{}">{}</a></li>', ((u, t) for t, u in links))
        )

    def has_refund_permission(self, request) -> bool:
        return request.user.is_superuser or request.user.has_perm("trade.change_order")

    @admin.action(description=_("Refund the selected orders"), permissions=["refund"])
    def refund(self, request, queryset):
        page = confirm_action(self, request, queryset, action="refund",
                              question=_("Refund these orders? Paid orders get their money back."),
                              details=refund_details(queryset))  # fmt: skip
        if page is not None:
            return page
        refund_orders(self, request, queryset)
        return None


@admin.register(FormationQuota)
class FormationQuotaAdmin(ReadOnlyAdmin):
    """An activity's team limit at work (``apps.trade.limits``): the teams holding a slot, open or formed."""

    list_display = ("activity", "reserved", "update_time")
    search_fields = ("activity__activity_id",)


@admin.register(DailyTakes)
class DailyTakesAdmin(ReadOnlyAdmin):
    """Seats each shopper locked per day and channel (``ChannelCredential.daily_take_limit``): why E0109."""

    list_display = ("day", "source", "channel", "user_id", "takes")
    list_filter = ("day", "source", "channel")
    search_fields = ("user_id",)
