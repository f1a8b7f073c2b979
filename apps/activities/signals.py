"""Edits (admin included) invalidate the cached activity configuration once they commit.

Not before: a concurrent read between the delete and the commit would re-cache the old row.
"""

from django.db.models import Q
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from apps.activities.models import Activity, Discount, ScSkuActivity, Sku
from apps.activities.selectors import activity_key, sku_activity_key, sku_key
from apps.common.cache import cache_delete_on_commit


@receiver([post_save, post_delete], sender=Sku)
def _sku_changed(sender, instance: Sku, **kwargs) -> None:
    cache_delete_on_commit(sku_key(instance.goods_id))


@receiver([post_save, post_delete], sender=Activity)
def _activity_changed(sender, instance: Activity, **kwargs) -> None:
    cache_delete_on_commit(activity_key(instance.activity_id))


@receiver([post_save, post_delete], sender=Discount)
def _discount_changed(sender, instance: Discount, **kwargs) -> None:
    # The activities priced by it: as their discount, or as their leader offer.
    ids = Activity.objects.filter(
        Q(discount_id=instance.discount_id) | Q(leader_discount_id=instance.discount_id)
    ).values_list("activity_id", flat=True)
    keys = [activity_key(activity_id) for activity_id in ids]
    if keys:
        cache_delete_on_commit(*keys)


@receiver(pre_save, sender=ScSkuActivity)
def _mapping_moving(sender, instance: ScSkuActivity, **kwargs) -> None:
    if instance.pk:
        # sku__goods_id is the sku_id column (no join), typed as the goods id it holds.
        old = ScSkuActivity.objects.filter(pk=instance.pk).values("source", "channel", "sku__goods_id").first()
        if old:
            cache_delete_on_commit(sku_activity_key(old["source"], old["channel"], old["sku__goods_id"]))


@receiver([post_save, post_delete], sender=ScSkuActivity)
def _mapping_changed(sender, instance: ScSkuActivity, **kwargs) -> None:
    cache_delete_on_commit(sku_activity_key(instance.source, instance.channel, instance.sku_id))
