import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


@pytest.fixture
def down_redis():
    """A client for a port nothing listens on: every command fails at once with ConnectionError."""
    return redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
