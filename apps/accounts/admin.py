from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.accounts.models import TrustedDevice, User, WeixinIdentity
from apps.accounts.services import trusted_devices_revoke

admin.site.site_header = _("groupbuy back office")
admin.site.site_title = _("groupbuy")
admin.site.index_title = _("Operations")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "is_staff", "is_active", "date_joined")


@admin.register(WeixinIdentity)
class WeixinIdentityAdmin(admin.ModelAdmin):
    """Created by the first signed scan of an openid; read-only here (delete to unlink)."""

    list_display = ("openid", "user", "create_time")
    search_fields = ("openid", "user__username")
    list_select_related = ("user",)
    readonly_fields = ("openid", "user", "create_time", "update_time")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class DeviceStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", _("active")), ("expired", _("expired")), ("revoked", _("revoked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True, expires_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(~Q(revoked_at=None))
        return queryset


_STATUS_LABELS = {"active": _("active"), "expired": _("expired"), "revoked": _("revoked")}


@admin.register(TrustedDevice)
class TrustedDeviceAdmin(admin.ModelAdmin):
    """Browsers that log in without a scan. Revoking one logs its browser out at its next request."""

    list_display = ("short_id", "user", "device_status", "last_seen", "create_time", "expires_at", "agent")
    list_filter = (DeviceStatusFilter,)
    search_fields = ("user__username", "=device_id")
    list_select_related = ("user",)
    ordering = ("-last_seen",)
    actions = ["revoke"]
    readonly_fields = (
        "device_id", "user", "user_agent", "create_time", "last_seen", "expires_at", "revoked_at", "update_time",
    )  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # devices come from logins only

    def has_change_permission(self, request: HttpRequest, obj: TrustedDevice | None = None) -> bool:
        return False  # read-only rows; the "revoke" action is the one change (needs the change permission)

    @admin.display(description=_("device"), ordering="device_id")
    def short_id(self, obj: TrustedDevice) -> str:
        return obj.device_id.hex[:8]

    @admin.display(description=_("status"))
    def device_status(self, obj: TrustedDevice) -> str:
        return str(_STATUS_LABELS[obj.status(timezone.now())])

    @admin.display(description=_("user agent"))
    def agent(self, obj: TrustedDevice) -> str:
        return Truncator(obj.user_agent).chars(60)

    @admin.action(description=_("Revoke selected devices"), permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = trusted_devices_revoke(device_ids=queryset.values_list("device_id", flat=True))
        message = ngettext("%(count)d device revoked.", "%(count)d devices revoked.", count) % {"count": count}
        self.message_user(request, message, messages.SUCCESS)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")
