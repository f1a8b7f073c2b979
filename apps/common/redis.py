"""The one Redis connection of the process, shared with the django-redis cache.

In the embedded shape this is an in-process fakeredis server (with Lua); otherwise REDIS_URL.
"""

from django_redis import get_redis_connection
from redis import Redis


def get_redis() -> Redis:
    return get_redis_connection("default")
