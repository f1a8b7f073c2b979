"""The bitmap is derived state: rebuilt from crowd_tags_detail, it matches the details exactly."""

import pytest

from apps.common.redis import get_redis
from apps.common.redis_state import rebuild_redis_state
from apps.tags.bitmap import bitmap_contains, bitmap_exists, tag_bitmap_key
from apps.tags.models import CrowdTag, CrowdTagDetail
from apps.tags.services import crowd_tag_add_members, crowd_tag_rebuild_bitmap
from apps.tags.tests.factories import CrowdTagDetailFactory, CrowdTagFactory

pytestmark = pytest.mark.django_db

MEMBERS = ["u1", "u2", "用户甲", "x" * 64]
OUTSIDERS = ["u3", "u4", "someone-else"]


def test_rebuild_after_a_redis_flush_restores_membership():
    tag = CrowdTagFactory()
    crowd_tag_add_members(tag=tag, user_ids=MEMBERS)
    get_redis().flushdb()
    assert not bitmap_exists(tag.tag_id)
    assert crowd_tag_rebuild_bitmap(tag=tag) == len(MEMBERS)
    assert all(bitmap_contains(tag.tag_id, user_id) for user_id in MEMBERS)
    assert not any(bitmap_contains(tag.tag_id, user_id) for user_id in OUTSIDERS)
    assert not get_redis().exists(f"{tag_bitmap_key(tag.tag_id)}:rebuild")  # the scratch key was renamed


def test_a_bitmap_under_its_name_before_hash_tags_is_replaced_by_rebuild_redis():
    """Upgrading a single Redis: the old untagged bitmap is not read; ``rebuild_redis`` writes the new one and
    deletes the old (docs/decisions/019-redis-cluster.md)."""
    tag = CrowdTagFactory()
    CrowdTagDetailFactory(tag=tag, user_id="u1")
    old_name = f"gbm:crowd_tag:{tag.tag_id}"
    get_redis().setbit(old_name, 1, 1)
    assert tag_bitmap_key(tag.tag_id) != old_name
    assert not bitmap_exists(tag.tag_id)
    assert rebuild_redis_state()["crowd tag bitmaps"] >= 1
    assert bitmap_contains(tag.tag_id, "u1")
    assert not get_redis().exists(old_name)


def test_rebuild_drops_removed_members_and_recounts_statistics():
    tag = CrowdTagFactory()
    crowd_tag_add_members(tag=tag, user_ids=MEMBERS)
    CrowdTagDetail.objects.filter(tag=tag, user_id="u1").delete()  # the documented way to remove a member
    CrowdTagDetailFactory(tag=tag, user_id="added-by-hand")  # written around the services
    assert crowd_tag_rebuild_bitmap(tag=tag) == len(MEMBERS)
    assert CrowdTag.objects.get(pk=tag.pk).statistics == len(MEMBERS)
    assert not bitmap_contains(tag.tag_id, "u1")
    assert bitmap_contains(tag.tag_id, "added-by-hand")


def test_rebuilding_an_empty_tag_removes_its_bitmap():
    tag = CrowdTagFactory()
    crowd_tag_add_members(tag=tag, user_ids=["u1"])
    CrowdTagDetail.objects.filter(tag=tag).delete()
    assert crowd_tag_rebuild_bitmap(tag=tag) == 0
    assert not bitmap_exists(tag.tag_id)
    assert CrowdTag.objects.get(pk=tag.pk).statistics == 0


def test_rebuild_redis_state_rebuilds_every_tag():
    tags = [CrowdTagFactory(), CrowdTagFactory()]
    for n, tag in enumerate(tags):
        crowd_tag_add_members(tag=tag, user_ids=[f"m{n}"])
    get_redis().flushdb()
    assert rebuild_redis_state()["crowd tag bitmaps"] == 2
    assert bitmap_contains(tags[0].tag_id, "m0")
    assert bitmap_contains(tags[1].tag_id, "m1")


def test_add_members_is_idempotent_and_returns_new_members():
    tag = CrowdTagFactory()
    assert crowd_tag_add_members(tag=tag, user_ids=["a", " b ", "", "a"]) == 2
    assert crowd_tag_add_members(tag=tag, user_ids=["b", "c"]) == 1
    assert tag.statistics == 3
    assert CrowdTag.objects.get(pk=tag.pk).statistics == 3
    assert all(bitmap_contains(tag.tag_id, user_id) for user_id in "abc")


def test_add_members_refuses_invalid_ids():
    tag = CrowdTagFactory()
    with pytest.raises(Exception, match="invalid user ids"):
        crowd_tag_add_members(tag=tag, user_ids=["ok", "y" * 65])
    assert not CrowdTagDetail.objects.exists()


@pytest.mark.services
def test_rebuild_against_real_redis(real_redis):
    tag = CrowdTagFactory()
    crowd_tag_add_members(tag=tag, user_ids=MEMBERS)
    real_redis.flushdb()
    crowd_tag_rebuild_bitmap(tag=tag)
    assert all(bitmap_contains(tag.tag_id, user_id) for user_id in MEMBERS)
    assert not any(bitmap_contains(tag.tag_id, user_id) for user_id in OUTSIDERS)
    assert real_redis.strlen(tag_bitmap_key(tag.tag_id)) <= 2**27 // 8  # 16 MiB at most
