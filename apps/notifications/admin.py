from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.common.admin import ReadOnlyAdmin, ReplicaChangelistMixin
from apps.notifications.models import InboxMessage, NotifyTask, ProcessedMessage
from apps.notifications.services import notify_tasks_requeue


@admin.register(NotifyTask)
class NotifyTaskAdmin(ReplicaChangelistMixin, ReadOnlyAdmin):
    list_display = (
        "uuid", "notify_category", "team_id", "notify_type", "notify_status", "notify_count", "next_attempt_at",
        "short_error", "create_time",
    )  # fmt: skip
    list_filter = ("notify_status", "notify_type", "notify_category")
    search_fields = ("uuid", "team_id", "notify_url")
    date_hierarchy = "create_time"
    actions = ["requeue"]

    @admin.display(description=_("last error"))
    def short_error(self, task: NotifyTask) -> str:
        return task.last_error[:80]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_requeue_permission(self, request) -> bool:
        return request.user.has_perm("notifications.change_notifytask")

    @admin.action(description=_("Re-queue the selected failed tasks"), permissions=["requeue"])
    def requeue(self, request, queryset) -> None:
        count = notify_tasks_requeue(task_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            ngettext("%(count)d failed task re-queued.", "%(count)d failed tasks re-queued.", count) % {"count": count},
            messages.SUCCESS,
        )


@admin.register(ProcessedMessage)
class ProcessedMessageAdmin(ReadOnlyAdmin):
    list_display = ("consumer", "message_uuid", "processed_at")
    list_filter = ("consumer",)
    search_fields = ("message_uuid",)


@admin.register(InboxMessage)
class InboxMessageAdmin(ReadOnlyAdmin):
    """What the shoppers were told (reminders: apps/payments/reminders.py), for support: view only."""

    list_display = ("create_time", "user", "kind", "team_id", "read_at")
    list_filter = ("kind",)
    search_fields = ("team_id", "user__username")
    date_hierarchy = "create_time"
    list_select_related = ("user",)
