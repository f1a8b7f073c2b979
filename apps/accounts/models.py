from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.common.models import TimeStampedModel


class User(AbstractUser):
    """Shoppers of the built-in mall and staff. The username is the group-buy ``userId``."""

    class Meta(AbstractUser.Meta):
        db_table = "user"
        verbose_name = _("user")
        verbose_name_plural = _("users")


class ChannelCredential(TimeStampedModel):
    """One calling mall's sales channel: its signing secret and whether it may call at all."""

    source = models.CharField(_("source"), max_length=16)
    channel = models.CharField(_("channel"), max_length=16)
    name = models.CharField(_("name"), max_length=64, blank=True)
    secret = models.CharField(_("signing secret"), max_length=128)
    signature_required = models.BooleanField(
        _("signature required"),
        default=True,
        help_text=_("Turn off only for legacy malls that cannot sign requests yet."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        db_table = "channel_credential"
        verbose_name = _("channel credential")
        verbose_name_plural = _("channel credentials")
        constraints = [
            models.UniqueConstraint(fields=["source", "channel"], name="uniq_channel_credential_sc"),
            models.CheckConstraint(condition=~models.Q(secret=""), name="channel_secret_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.source}/{self.channel}"

    @property
    def masked_secret(self) -> str:
        """What admin shows after saving: never the whole secret."""
        if len(self.secret) <= 8:
            return "•" * 8
        return f"{self.secret[:3]}{'•' * 8}{self.secret[-2:]}"
