"""Cache busting of channel credentials: after a save or delete commits, the entry goes.

``selectors.channel_credential_cache_clear`` busts after commit (``apps.common.cache.cache_delete_on_commit``):
busting at once would let a concurrent request re-cache the old row between our delete and the commit. A save
that renames the pair busts the old key too, or the old name would keep working until it expired.
"""

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from apps.channels.models import ChannelCredential
from apps.channels.selectors import channel_credential_cache_clear


@receiver(pre_save, sender=ChannelCredential, dispatch_uid="channels.credential_bust_old_pair")
def credential_bust_old_pair(sender, instance: ChannelCredential, raw: bool = False, **kwargs) -> None:
    if raw or instance.pk is None:
        return
    old = ChannelCredential.objects.filter(pk=instance.pk).values_list("source", "channel").first()
    if old is not None and old != (instance.source, instance.channel):
        channel_credential_cache_clear(source=old[0], channel=old[1])


@receiver(post_save, sender=ChannelCredential, dispatch_uid="channels.credential_bust_saved")
@receiver(post_delete, sender=ChannelCredential, dispatch_uid="channels.credential_bust_deleted")
def credential_bust(sender, instance: ChannelCredential, **kwargs) -> None:
    channel_credential_cache_clear(source=instance.source, channel=instance.channel)
