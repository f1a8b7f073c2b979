"""The process's Redis, shared with the django-redis cache; ``get_redis()`` hands each thread its own client.

In the embedded shape this is an in-process fakeredis server (with Lua); otherwise REDIS_URL, or a Redis Cluster
(``REDIS_CLUSTER_NODES``: a ``redis.cluster.RedisCluster`` with the same command API, apps/common/redis_cluster.py).

On a single Redis server each thread gets a ``ThreadRedis``: one connection of the cache's pool, kept for the
thread's life, so a command costs no pool round (lock, pid check, a peek for unread data: three syscalls). The
embedded and cluster clients are returned as before. docs/decisions/021-one-redis-connection-per-thread.md.
"""

import contextlib
import os
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from django_redis import get_redis_connection
from redis import Redis
from redis.cluster import RedisCluster
from redis.connection import Connection, ConnectionPool, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from apps.common.generations import Generation

# Real sockets only: fakeredis's connection class (embedded) keeps the pooled client it has always had.
_SOCKET_CONNECTIONS = (Connection, SSLConnection, UnixDomainSocketConnection)


class ThreadRedis(Redis):
    """A client for one thread that holds one connection of a shared pool from its first command on.

    The connection is taken at the first command, not in ``__init__`` as ``single_connection_client=True`` does:
    an unreachable Redis then raises at a command, inside the caller's ``except RedisError``, as a pooled client
    does. After that it is redis-py's single-connection path (under its lock; never given back per command).
    """

    def __init__(self, *, connection_pool: ConnectionPool) -> None:
        super().__init__(connection_pool=connection_pool)
        _all_thread_clients.add(self)

    def execute_command(self, *args: Any, **options: Any) -> Any:
        conn = self.connection
        if conn is not None and conn.is_connected:
            # The connection is this thread's alone: send and parse, without redis-py's per-command lock, retry
            # closures and timing (a third of a command's CPU here). A failed exchange leaves the connection in an
            # unknown state: it is dropped, and the command goes the full way once more (reconnect, retry).
            try:
                conn.send_command(*args, **options)
                return self.parse_response(conn, args[0], **options)
            except ResponseError:
                raise  # the server's answer (NOSCRIPT, WRONGTYPE...): the connection is in step
            except (RedisConnectionError, RedisTimeoutError, OSError):
                conn.disconnect()  # then the full way below, as redis-py would have retried it
            except BaseException:
                conn.disconnect()
                raise
        if conn is None:
            self.connection = self.connection_pool.get_connection()  # connects; checked once for unread data
            self._single_connection_client = True
            return super().execute_command(*args, **options)
        if not conn.is_connected:  # dropped by an earlier error: this command connects, once, as the pool would
            return super().execute_command(*args, **options)
        try:
            return super().execute_command(*args, **options)
        except RedisConnectionError:
            # The server closed the idle connection (a restart, CLIENT KILL, its `timeout`): the pool saw that before
            # lending it and reconnected; here the command reconnects once. Redis still down: this raises.
            return super().execute_command(*args, **options)


class _ThreadSlot:
    """A thread's client. The slot dies with the thread (threading.local) and gives the connection back to the
    pool then; the client itself may outlive it in a reference cycle (its registered scripts point back at it)."""

    __slots__ = ("client", "generation")

    def __init__(self, client: ThreadRedis, generation: int) -> None:
        self.client = client
        self.generation = generation

    def __del__(self) -> None:
        # A finalizer: nothing to tell; a connection not given back is one the pool never lends again.
        with contextlib.suppress(Exception):
            self.client.close()


_threads = threading.local()
_all_thread_clients: "weakref.WeakSet[ThreadRedis]" = weakref.WeakSet()
# Each thread builds a new client at its next get_redis() after a fork or a change of CACHES.
_generation = Generation(depends_on=lambda setting: setting == "CACHES")


def get_redis() -> Redis:
    slot = getattr(_threads, "slot", None)
    if slot is not None and slot.generation == _generation.value:
        return slot.client
    return _thread_client()


def _thread_client() -> Redis:
    shared = get_redis_connection("default")
    pool = getattr(shared, "connection_pool", None)
    if (
        type(shared) is not Redis
        or type(pool) is not ConnectionPool
        or pool.connection_class not in _SOCKET_CONNECTIONS
    ):
        return shared  # a cluster or the embedded Redis: the cache's own client, as before
    slot = _threads.slot = _ThreadSlot(ThreadRedis(connection_pool=pool), _generation.value)  # the old slot closes
    return slot.client


def _after_fork_in_child() -> None:
    # The generation moved (each thread builds a new client). A client kept from before the fork (a reference held
    # elsewhere) drops the parent's socket without a word on it and takes a connection of its own if used again
    # (the pool resets itself in a child).
    for client in list(_all_thread_clients):
        client.connection = None


os.register_at_fork(after_in_child=_after_fork_in_child)


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
