"""Redis Cluster as the project's Redis (``REDIS_CLUSTER_NODES``): docs/decisions/019-redis-cluster.md.

django-redis 7 has no cluster client, so ``ClusterCacheClient`` is its ``DefaultClient`` whose connection is one
``redis.cluster.RedisCluster`` built from every node of ``LOCATION`` (the startup nodes; the client learns the
slot map from them). The cache and ``get_redis()`` (which shares the cache's connection) then speak to the
cluster. Multi-key commands work across slots: ``get_many`` reads with ``mget_nonatomic`` (MGET needs one slot);
``delete_many`` and ``delete_pattern`` delete key by key (redis-py splits DEL by slot). Lua scripts and MULTI
need their keys in one slot: every caller hash-tags its keys (``{team:<id>}``), and tests check each script
call (``apps.common.redis_scripts``).

A cluster that cannot be reached at connect time is reported as redis-py's ``ConnectionError`` (RedisCluster
raises its own exception type there, which is no ``RedisError``), so the fail-open paths of the rate limiter,
the login throttle and the nonce store treat it as "Redis down", as on a single server.
"""

import threading
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError


def cluster_startup_nodes(locations: Collection[str]) -> list[ClusterNode]:
    """``redis://host:port/0`` or ``host:port`` entries → startup nodes (port 6379 when none is given)."""
    nodes = []
    for location in locations:
        parts = urlsplit(location if "://" in location else f"redis://{location}")
        nodes.append(ClusterNode(parts.hostname or "127.0.0.1", parts.port or 6379))
    return nodes


# One RedisCluster per process and configuration, shared by every thread, as django-redis shares its connection pools:
# Django's cache handler makes a client per thread, and a new RedisCluster first asks a node for the slot map and
# the command table (two round trips, the second a large reply) before its first command. It is thread-safe (a
# connection pool per node) and fork-safe (each pool reconnects in a child).
_clients: dict[tuple, RedisCluster] = {}
_clients_lock = threading.Lock()


class ClusterCacheClient(DefaultClient):
    """django-redis client whose one connection is a ``RedisCluster`` over all of LOCATION's nodes."""

    def __init__(self, server: Any, params: dict[str, Any], backend: Any) -> None:
        super().__init__(server, params, backend)
        locations = [str(location) for location in server.split(",")] if isinstance(server, str) else list(server)
        self._startup_nodes = cluster_startup_nodes(locations)
        # One client for reads and writes: the cluster routes each command itself (no replica index).
        self._server = locations[:1]
        self._clients = [None]

    def connect(self, index: int = 0) -> RedisCluster:
        options = self._options
        kwargs = {
            "socket_connect_timeout": options.get("SOCKET_CONNECT_TIMEOUT"),
            "socket_timeout": options.get("SOCKET_TIMEOUT"),
            **options.get("CONNECTION_POOL_KWARGS", {}),
        }
        key = (tuple((node.host, node.port) for node in self._startup_nodes), repr(sorted(kwargs.items())))
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                try:
                    client = _clients[key] = RedisCluster(startup_nodes=self._startup_nodes, **kwargs)
                except RedisClusterException as exc:  # "Redis Cluster cannot be connected": no RedisError subclass
                    raise RedisConnectionError(str(exc)) from exc
        return client

    def disconnect(self, index: int = 0, client: Any = None) -> None:
        # Like django-redis's own: the (shared) connections are closed; the client reconnects on its next command.
        client = client if client is not None else self._clients[index]
        if client is not None:
            client.close()

    def get_many(self, keys: Collection[str], version: int | None = None, client: Any = None) -> dict:
        if client is None:
            client = self.get_client(write=False)
        if not keys:
            return {}
        map_keys = {self.make_key(key, version=version): key for key in keys}
        try:
            results = client.mget_nonatomic(list(map_keys))
        except RedisError as exc:
            raise ConnectionInterrupted(connection=client) from exc
        found = zip(map_keys, results, strict=True)
        return {map_keys[key]: self.decode(value) for key, value in found if value is not None}

    def delete_pattern(
        self,
        pattern: str,
        version: int | None = None,
        prefix: str | None = None,
        client: Any = None,
        itersize: int | None = None,
    ) -> int:
        if client is None:
            client = self.get_client(write=True)
        pattern = self.make_pattern(pattern, version=version, prefix=prefix)
        try:
            keys = list(client.scan_iter(match=pattern, count=itersize))  # every primary's keys
            return int(client.delete(*keys)) if keys else 0
        except RedisError as exc:
            raise ConnectionInterrupted(connection=client) from exc
