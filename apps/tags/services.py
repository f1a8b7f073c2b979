"""Writes of crowd tags: details are the truth, the bitmap follows."""

from django.db import transaction

from apps.tags.bitmap import bitmap_replace
from apps.tags.models import CrowdTag, CrowdTagDetail


def crowd_tag_add_members(*, tag: CrowdTag, user_ids: list[str]) -> int:
    """Insert members idempotently, keep ``statistics`` exact, refresh the bitmap. Returns new members."""
    wanted = {user_id.strip() for user_id in user_ids if user_id and user_id.strip()}
    with transaction.atomic():
        before = CrowdTagDetail.objects.filter(tag=tag).count()
        CrowdTagDetail.objects.bulk_create(
            [CrowdTagDetail(tag=tag, user_id=user_id) for user_id in sorted(wanted)], ignore_conflicts=True
        )
        after = CrowdTagDetail.objects.filter(tag=tag).count()
        CrowdTag.objects.filter(pk=tag.pk).update(statistics=after)
    tag.statistics = after
    transaction.on_commit(lambda: crowd_tag_rebuild_bitmap(tag=tag))
    return after - before


def crowd_tag_rebuild_bitmap(*, tag: CrowdTag) -> int:
    """Rebuild the Redis bitmap from ``crowd_tags_detail``. Returns the member count."""
    user_ids = list(CrowdTagDetail.objects.filter(tag=tag).values_list("user_id", flat=True))
    bitmap_replace(tag.tag_id, user_ids)
    return len(user_ids)
