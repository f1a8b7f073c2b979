"""Models of channel signing: the calling malls' credentials and the nonces recorded while Redis was down.

The tables kept their names when the models moved here from ``apps.accounts`` (state-only migrations).
"""

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.common.models import TimeStampedModel


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
    notify_hosts = models.TextField(
        _("callback hosts"),
        blank=True,
        help_text=_(
            "Hosts this channel's HTTP callbacks (notifyUrl) may go to, one per line; *.example.com allows its "
            "subdomains. Empty: HTTP callbacks are refused (MQ callbacks still work)."
        ),
    )
    notify_private_allowed = models.BooleanField(
        _("callbacks to private addresses"),
        default=False,
        help_text=_("Allow loopback, private and link-local addresses in notifyUrl (local and demo setups only)."),
    )
    daily_take_limit = models.PositiveIntegerField(
        _("takes per user per day"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("At most this many seats a user may take per day across this channel's activities; empty: none."),
    )
    team_expiring_callback = models.BooleanField(
        _("team-expiring callbacks"),
        default=False,
        help_text=_("Also send a signed team_expiring callback when a team with seats left is about to expire."),
    )

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
    def notify_host_patterns(self) -> list[str]:
        return [line.strip().lower().rstrip(".") for line in self.notify_hosts.splitlines() if line.strip()]

    @property
    def masked_secret(self) -> str:
        """What admin shows after saving: never the whole secret."""
        if len(self.secret) <= 8:
            return "•" * 8
        return f"{self.secret[:3]}{'•' * 8}{self.secret[-2:]}"


class SignatureNonce(models.Model):
    """A signed request's nonce, recorded here only while Redis was unreachable (``apps.channels.nonces``).

    Rows live as long as the nonce must be remembered (``expires_at``); the purge job deletes them after.
    """

    source = models.CharField(_("source"), max_length=16)
    channel = models.CharField(_("channel"), max_length=16)
    nonce = models.CharField(_("nonce"), max_length=64)
    expires_at = models.DateTimeField(_("expires at"), db_index=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "signature_nonce"
        verbose_name = _("signature nonce")
        verbose_name_plural = _("signature nonces")
        constraints = [
            models.UniqueConstraint(fields=["source", "channel", "nonce"], name="uniq_signature_nonce"),
        ]

    def __str__(self) -> str:
        return f"{self.source}/{self.channel}:{self.nonce}"
