"""The one Redis connection of the process, shared with the django-redis cache.

In the embedded shape this is an in-process fakeredis server (with Lua); otherwise REDIS_URL, or a Redis Cluster
(``REDIS_CLUSTER_NODES``: a ``redis.cluster.RedisCluster`` with the same command API, apps/common/redis_cluster.py).
"""

from collections.abc import Sequence

from django_redis import get_redis_connection
from redis import Redis
from redis.cluster import RedisCluster


def get_redis() -> Redis:
    return get_redis_connection("default")


def redis_publish_all(channel: str, messages: Sequence[str], *, client: Redis | None = None) -> None:
    """Publish ``messages`` on ``channel`` in order: one pipelined round trip on a single Redis, one PUBLISH each on
    a cluster (redis-py refuses PUBLISH in a cluster pipeline; the cluster relays it to every node's subscribers)."""
    client = client if client is not None else get_redis()
    if isinstance(client, RedisCluster):
        for message in messages:
            client.publish(channel, message)
        return
    pipe = client.pipeline(transaction=False)
    for message in messages:
        pipe.publish(channel, message)
    pipe.execute()
