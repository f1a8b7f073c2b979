"""Admin of channel signing: the malls' credentials (the secret write-only) and the fallback nonces (read-only)."""

from typing import Any

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.channels.models import ChannelCredential, SignatureNonce
from apps.common.admin import ReadOnlyAdmin


class ChannelCredentialForm(forms.ModelForm):
    """The secret is write-only: typed once, never rendered back; blank on edit keeps the old one."""

    new_secret = forms.CharField(
        label=_("signing secret"),
        required=False,
        strip=True,
        min_length=16,
        max_length=128,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("At least 16 characters. Leave blank to keep the current secret."),
    )

    class Meta:
        model = ChannelCredential
        fields = (
            "source",
            "channel",
            "name",
            "signature_required",
            "enabled",
            "notify_hosts",
            "notify_private_allowed",
            "team_expiring_callback",
            "daily_take_limit",
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if not self.instance.pk and not cleaned.get("new_secret"):
            self.add_error("new_secret", _("A new channel needs a signing secret."))
        return cleaned

    def save(self, commit: bool = True) -> ChannelCredential:
        if self.cleaned_data.get("new_secret"):
            self.instance.secret = self.cleaned_data["new_secret"]
        return super().save(commit)


@admin.register(ChannelCredential)
class ChannelCredentialAdmin(admin.ModelAdmin):
    form = ChannelCredentialForm
    list_display = ("source", "channel", "name", "masked_secret", "signature_required", "enabled", "update_time")
    list_filter = ("enabled", "signature_required", "source")
    search_fields = ("source", "channel", "name")
    readonly_fields = ("masked_secret",)
    fieldsets = (
        (
            None,
            {"fields": ("source", "channel", "name", "masked_secret", "new_secret", "signature_required", "enabled")},
        ),
        (_("HTTP callbacks"), {"fields": ("notify_hosts", "notify_private_allowed", "team_expiring_callback")}),
        (_("Limits"), {"fields": ("daily_take_limit",)}),
    )

    @admin.display(description=_("signing secret"))
    def masked_secret(self, obj: ChannelCredential) -> str:
        return obj.masked_secret if obj.pk else "—"


@admin.register(SignatureNonce)
class SignatureNonceAdmin(ReadOnlyAdmin):
    """Nonces of signed requests recorded while Redis was unreachable; the purge job deletes expired ones."""

    list_display = ("source", "channel", "nonce", "created_at", "expires_at")
    list_filter = ("source", "channel")
    search_fields = ("=nonce", "source", "channel")
    ordering = ("-created_at",)
