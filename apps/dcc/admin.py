from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.common.admin import ReadOnlyAdmin
from apps.dcc.keys import DCC_KEYS
from apps.dcc.models import DccChange, DccValue
from apps.dcc.services import dcc_update


@admin.register(DccValue)
class DccValueAdmin(admin.ModelAdmin):
    list_display = ("key", "value", "description", "updated_by", "update_time")
    search_fields = ("key",)
    readonly_fields = ("updated_by", "update_time")

    @admin.display(description=_("description"))
    def description(self, obj: DccValue) -> str:
        definition = DCC_KEYS.get(obj.key)
        return definition.description if definition else ""

    def get_readonly_fields(self, request, obj=None):
        return ("key", *self.readonly_fields) if obj else self.readonly_fields

    def save_model(self, request, obj: DccValue, form, change: bool) -> None:
        # Through the service, so every change is audited and broadcast.
        saved = dcc_update(key=obj.key, value=obj.value, changed_by=request.user, via="admin")
        obj.pk = saved.pk


@admin.register(DccChange)
class DccChangeAdmin(ReadOnlyAdmin):
    list_display = ("changed_at", "key", "old_value", "new_value", "changed_by", "via")
    list_filter = ("key", "via")
    search_fields = ("key", "new_value", "changed_by__username")
