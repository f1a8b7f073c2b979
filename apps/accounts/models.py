import uuid
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.common.models import TimeStampedModel


class User(AbstractUser):
    """Shoppers of the built-in mall and staff. The username is the group-buy ``userId``."""

    # Not a subclass of AbstractUser.Meta: it holds only these two labels (and abstract).
    class Meta:
        db_table = "user"
        verbose_name = _("user")
        verbose_name_plural = _("users")


class WeixinIdentity(TimeStampedModel):
    """A WeChat openid and the user it logs in as (created at the first signed scan event of that openid)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="weixin_identity", verbose_name=_("user")
    )
    # Compared exactly in Python too: MariaDB's default collation is case-insensitive, openids are not.
    openid = models.CharField(_("WeChat openid"), max_length=64, unique=True)

    class Meta:
        db_table = "weixin_identity"
        verbose_name = _("WeChat identity")
        verbose_name_plural = _("WeChat identities")
        constraints = [models.CheckConstraint(condition=~models.Q(openid=""), name="weixin_openid_not_blank")]

    def __str__(self) -> str:
        return self.openid


class TrustedDevice(TimeStampedModel):
    """A browser that logged in once and may log in again without a scan (seamless login, 无痕登录).

    The browser holds only a signed copy of ``device_id`` (``apps.accounts.devices``); this row says
    whether that copy still counts. ``last_seen`` is the last login through this device (the first
    login, then every seamless one). Rows are never edited by hand: revoke them (admin action).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trusted_devices", verbose_name=_("user")
    )
    device_id = models.UUIDField(_("device id"), unique=True, default=uuid.uuid4, editable=False)
    user_agent = models.CharField(_("user agent"), max_length=255, blank=True)
    last_seen = models.DateTimeField(_("last seen"))
    expires_at = models.DateTimeField(_("expires at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        db_table = "trusted_device"
        verbose_name = _("trusted device")
        verbose_name_plural = _("trusted devices")

    def __str__(self) -> str:
        return f"{self.device_id.hex[:8]} ({self.user_id})"

    def status(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked`` (revocation wins)."""
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.expires_at > now else "expired"
