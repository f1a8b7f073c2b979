from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.activities.models import Activity, Discount, ScSkuActivity, Sku


@admin.register(Sku)
class SkuAdmin(admin.ModelAdmin):
    list_display = ("goods_id", "goods_name", "original_price", "source", "channel", "update_time")
    list_filter = ("source", "channel")
    search_fields = ("goods_id", "goods_name")
    fields = ("goods_id", "goods_name", "description", "image", "original_price", "source", "channel")


@admin.register(Discount)
class DiscountAdmin(admin.ModelAdmin):
    list_display = ("discount_id", "discount_name", "discount_type", "market_plan", "market_expr", "tag")
    list_filter = ("discount_type", "market_plan")
    search_fields = ("discount_id", "discount_name")
    autocomplete_fields = ("tag",)


class ScSkuActivityInline(admin.TabularInline):
    model = ScSkuActivity
    extra = 0
    autocomplete_fields = ("sku",)


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = (
        "activity_id",
        "activity_name",
        "status",
        "discount",
        "target",
        "valid_time",
        "take_limit_count",
        "group_type",
        "start_time",
        "end_time",
    )
    list_filter = ("status", "group_type", "discount__market_plan")
    search_fields = ("activity_id", "activity_name")
    autocomplete_fields = ("discount", "leader_discount", "tag")
    date_hierarchy = "start_time"
    fieldsets = (
        (None, {"fields": ("activity_id", "activity_name", "status", "start_time", "end_time")}),
        (_("Team"), {"fields": ("discount", "target", "valid_time", "take_limit_count", "group_type")}),
        (_("Crowd tag"), {"fields": ("tag", "tag_scope")}),
        (
            _("Growth"),
            {
                "fields": (
                    "leader_discount",
                    "new_customers_only",
                    "auto_form_percent",
                    "max_teams_formed",
                    "expiry_reminder_minutes",
                )
            },
        ),
    )
    inlines = [ScSkuActivityInline]


@admin.register(ScSkuActivity)
class ScSkuActivityAdmin(admin.ModelAdmin):
    list_display = ("source", "channel", "sku", "activity", "update_time")
    list_filter = ("source", "channel")
    search_fields = ("sku__goods_id", "sku__goods_name", "activity__activity_id")
    autocomplete_fields = ("sku", "activity")
