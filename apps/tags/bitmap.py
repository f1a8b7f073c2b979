"""Crowd-tag membership as one Redis bitmap per tag.

Bit index of a user: ``int(md5(user_id).hexdigest(), 16) % 2**27`` — stable across processes and
languages and non-negative. The reference takes the MD5 modulo 2^31-1, which lets a single member
allocate a 256 MiB Redis string; 2^27 bits caps a tag's bitmap at 16 MiB. Like any one-hash
bitmap over string ids, two users may share a bit: a false positive (about members / 2^27, i.e.
0.75 % for a one-million-member tag), never a false negative. ``crowd_tags_detail`` stays the
exact source of truth the bitmap is rebuilt from.

Keys carry the tag as a hash tag (``gbm:crowd_tag:{T1}``), so the scratch key of a rebuild lies in the bitmap's
cluster slot and RENAME works on a Redis Cluster. Bitmaps under the older untagged names are no longer read: the
first trial that misses one asks the database and queues its rebuild; ``manage.py rebuild_redis`` rebuilds all,
and each rebuild deletes the tag's bitmap under the old name.
"""

import hashlib

from apps.common.redis import get_redis

_MODULUS = 2**27


def tag_bitmap_key(tag_id: str) -> str:
    return f"gbm:crowd_tag:{{{tag_id}}}"


def _untagged_key(tag_id: str) -> str:
    """The bitmap's name before keys carried hash tags (docs/decisions/019-redis-cluster.md)."""
    return f"gbm:crowd_tag:{tag_id}"


def user_bit_index(user_id: str) -> int:
    return int(hashlib.md5(user_id.encode("utf-8"), usedforsecurity=False).hexdigest(), 16) % _MODULUS


def bitmap_exists(tag_id: str) -> bool:
    return bool(get_redis().exists(tag_bitmap_key(tag_id)))


def bitmap_contains(tag_id: str, user_id: str) -> bool:
    return bool(get_redis().getbit(tag_bitmap_key(tag_id), user_bit_index(user_id)))


def bitmap_add(tag_id: str, user_ids: list[str]) -> None:
    pipe = get_redis().pipeline(transaction=False)
    for user_id in user_ids:
        pipe.setbit(tag_bitmap_key(tag_id), user_bit_index(user_id), 1)
    pipe.execute()


def bitmap_replace(tag_id: str, user_ids: list[str]) -> None:
    """Build into a scratch key, then RENAME: readers never see a half-built bitmap."""
    redis = get_redis()
    key = tag_bitmap_key(tag_id)
    scratch = f"{key}:rebuild"
    pipe = redis.pipeline(transaction=False)
    pipe.delete(scratch)
    for user_id in user_ids:
        pipe.setbit(scratch, user_bit_index(user_id), 1)
    pipe.execute()
    if user_ids:
        redis.rename(scratch, key)
    else:
        redis.delete(key)
    redis.delete(_untagged_key(tag_id))  # its own command: on a cluster it lies in another slot
