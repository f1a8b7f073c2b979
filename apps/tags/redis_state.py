from apps.tags.models import CrowdTag
from apps.tags.services import crowd_tag_rebuild_bitmap


def rebuild_all_tag_bitmaps() -> int:
    tags = list(CrowdTag.objects.all())
    for tag in tags:
        crowd_tag_rebuild_bitmap(tag=tag)
    return len(tags)
