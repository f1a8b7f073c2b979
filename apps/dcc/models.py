from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.common.models import TimeStampedModel
from apps.dcc.keys import DCC_KEYS, InvalidValue


class DccValue(TimeStampedModel):
    """The stored value of one DCC key. Missing rows mean the key's default."""

    key = models.CharField(_("key"), max_length=64, unique=True, choices=[(k, k) for k in DCC_KEYS])
    value = models.CharField(_("value"), max_length=1024)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("updated by"),
    )

    class Meta:
        db_table = "dcc_value"
        verbose_name = _("dynamic config value")
        verbose_name_plural = _("dynamic config values")

    def __str__(self) -> str:
        return f"{self.key}={self.value}"

    def clean(self) -> None:
        definition = DCC_KEYS.get(self.key)
        if definition is None:
            raise ValidationError({"key": _("Unknown key.")})
        try:
            self.value = definition.normalize(self.value)
        except InvalidValue as exc:
            raise ValidationError({"value": str(exc)}) from None


class DccChange(models.Model):
    """Audit trail: who changed which key, when, from what to what, and through which door."""

    class Via(models.TextChoices):
        ADMIN = "admin", _("admin")
        API = "api", _("API")
        COMMAND = "command", _("command")

    key = models.CharField(_("key"), max_length=64, db_index=True)
    old_value = models.CharField(_("old value"), max_length=1024, blank=True)
    new_value = models.CharField(_("new value"), max_length=1024)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    via = models.CharField(_("via"), max_length=16, choices=Via.choices)
    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True, db_index=True)

    class Meta:
        db_table = "dcc_change"
        verbose_name = _("dynamic config change")
        verbose_name_plural = _("dynamic config changes")
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.key}: {self.old_value} → {self.new_value}"
