"""Dynamic configuration in admin: every registered key on one page, edited through ``dcc_update``.

The changelist is built from the key registry, not from the rows: a key nobody changed yet shows its
default (and says so) instead of being absent. Editing a key, or the channel blacklist on its own form,
goes through the service, so every change is validated, audited (``DccChange``) and broadcast. Viewing
needs the model's view permission; changing needs its change permission.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.common.admin import ReadOnlyAdmin
from apps.common.errors import GroupBuyError
from apps.dcc.forms import BlacklistForm, DccKeyForm
from apps.dcc.keys import DCC_KEYS
from apps.dcc.models import DccChange, DccValue
from apps.dcc.selectors import dcc_blacklist_pairs, dcc_channel_pairs, dcc_entries
from apps.dcc.services import dcc_update

BLACKLIST_KEY = "scBlacklist"


@admin.register(DccValue)
class DccValueAdmin(admin.ModelAdmin):
    list_display = ("key", "value", "description", "updated_by", "update_time")
    search_fields = ("key",)
    readonly_fields = ("updated_by", "update_time")

    @admin.display(description=_("description"))
    def description(self, obj: DccValue) -> str:
        definition = DCC_KEYS.get(obj.key)
        return str(definition.description) if definition else ""

    def get_readonly_fields(self, request, obj=None):
        return ("key", *self.readonly_fields) if obj else self.readonly_fields

    def save_model(self, request, obj: DccValue, form, change: bool) -> None:
        # Through the service, so every change is audited and broadcast.
        saved = dcc_update(key=obj.key, value=obj.value, changed_by=request.user, via="admin")
        obj.pk = saved.pk

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("blacklist/", wrap(self.blacklist_view), name="dcc_dccvalue_blacklist"),
            path("key/<str:key>/", wrap(self.edit_key_view), name="dcc_dccvalue_key"),
            *super().get_urls(),
        ]

    def _context(self, request: HttpRequest, title: str | Promise) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title}

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        """Every registered key with its effective value, default and description."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return TemplateResponse(
            request,
            "admin/dcc/dccvalue/change_list.html",
            {
                **self._context(request, _("Dynamic configuration")),
                "entries": dcc_entries(),
                "can_change": self.has_change_permission(request),
                "blacklist_key": BLACKLIST_KEY,
                "history_url": reverse("admin:dcc_dccchange_changelist"),
            },
        )

    def edit_key_view(self, request: HttpRequest, key: str) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        definition = DCC_KEYS.get(key)
        if definition is None:
            raise Http404(f"unknown DCC key: {key}")
        if key == BLACKLIST_KEY:
            return HttpResponseRedirect(reverse("admin:dcc_dccvalue_blacklist"))
        entry = next(entry for entry in dcc_entries() if entry.name == key)
        form = DccKeyForm(request.POST or None, definition=definition, initial={"value": entry.value})
        valid = request.method == "POST" and form.is_valid()
        if valid and self._save(request, form, key=key, value=str(form.cleaned_data["value"])):
            return HttpResponseRedirect(reverse("admin:dcc_dccvalue_changelist"))
        return TemplateResponse(
            request,
            "admin/dcc/edit_key.html",
            {**self._context(request, _("Change %(key)s") % {"key": key}), "entry": entry, "form": form},
        )

    def blacklist_view(self, request: HttpRequest) -> HttpResponse:
        """The channel blacklist as pairs: remove listed ones, add registered channels."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        listed = dcc_blacklist_pairs()
        form = BlacklistForm(request.POST or None, listed=listed, channels=dcc_channel_pairs())
        valid = request.method == "POST" and form.is_valid()
        if valid and self._save(request, form, key=BLACKLIST_KEY, value=",".join(form.new_pairs())):
            return HttpResponseRedirect(reverse("admin:dcc_dccvalue_blacklist"))
        return TemplateResponse(
            request,
            "admin/dcc/blacklist.html",
            {
                **self._context(request, _("Channel blacklist")),
                "form": form,
                "listed": listed,
                "description": DCC_KEYS[BLACKLIST_KEY].description,
            },
        )

    def _save(self, request: HttpRequest, form, *, key: str, value: str) -> bool:
        try:
            user = request.user if request.user.is_authenticated else None  # staff: always authenticated
            saved = dcc_update(key=key, value=value, changed_by=user, via="admin")
        except GroupBuyError as exc:
            form.add_error(None, exc.info)
            return False
        self.message_user(
            request, _("%(key)s is now “%(value)s”.") % {"key": key, "value": saved.value}, messages.SUCCESS
        )
        return True


@admin.register(DccChange)
class DccChangeAdmin(ReadOnlyAdmin):
    list_display = ("changed_at", "key", "old_value", "new_value", "changed_by", "via")
    list_filter = ("key", "via")
    search_fields = ("key", "new_value", "changed_by__username")
