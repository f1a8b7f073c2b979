"""Cache busting of trusted devices: after a save or delete commits, the cached state goes (after commit, as
for channel credentials in ``apps.channels.signals``: busting at once could let a request re-cache the old row)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.accounts.models import TrustedDevice
from apps.accounts.selectors import trusted_device_cache_clear


@receiver(post_save, sender=TrustedDevice, dispatch_uid="accounts.device_bust_saved")
@receiver(post_delete, sender=TrustedDevice, dispatch_uid="accounts.device_bust_deleted")
def device_bust(sender, instance: TrustedDevice, **kwargs) -> None:
    """Bulk revocations bust explicitly (``services.trusted_devices_revoke``); row saves and deletes here."""
    trusted_device_cache_clear(device_id=instance.device_id)  # runs after commit
