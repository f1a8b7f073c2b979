from django.contrib import admin

from apps.common.admin import ReadOnlyAdmin
from apps.notifications.models import NotifyTask


@admin.register(NotifyTask)
class NotifyTaskAdmin(ReadOnlyAdmin):
    list_display = (
        "uuid",
        "notify_category",
        "team_id",
        "notify_type",
        "notify_status",
        "notify_count",
        "next_attempt_at",
        "create_time",
    )
    list_filter = ("notify_status", "notify_type", "notify_category")
    search_fields = ("uuid", "team_id", "notify_url")
    date_hierarchy = "create_time"
