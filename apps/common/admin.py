from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.functional import Promise

from apps.common.db_routing import replica_reads


class ReplicaChangelistMixin(admin.ModelAdmin):
    """The changelist (GET) reads from the replica when one is configured: long lists of rows that only grow.

    Actions (POST) and the change pages stay on the primary: staff act on what is, not on what was a second
    ago. See apps/common/db_routing.py.
    """

    def changelist_view(self, request: HttpRequest, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            return super().changelist_view(request, extra_context)
        return replica_reads()(super().changelist_view)(request, extra_context)


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows only the domain services write (teams, orders, notify tasks, audit): view, never edit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def confirm_action(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset, *, action: str, question: str | Promise, details=None
):
    """None once staff confirmed (POST with confirm=yes); otherwise the confirmation page to show.

    ``details``: optional ``(headers, rows)`` — a table of what the action will touch (e.g. each order's
    shopper, goods and amount), shown above the buttons so staff see what they confirm.
    """
    if request.POST.get("confirm") == "yes":
        return None
    return TemplateResponse(
        request,
        "admin/confirm_action.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": question,
            "objects": list(queryset),
            "action": action,
            "opts": modeladmin.model._meta,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "detail_headers": details[0] if details else None,
            "detail_rows": details[1] if details else None,
        },
    )
