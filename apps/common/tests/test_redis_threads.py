"""``get_redis()`` on a single Redis server: one connection per thread, kept, and given back when the thread ends;
a forked child never uses its parent's; a connection the server closed is replaced as the pool replaces it."""

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.test import override_settings
from django_redis import get_redis_connection
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from apps.common.redis import ThreadRedis, get_redis

pytestmark = pytest.mark.services

THREADS = 4


@pytest.fixture
def single_server(real_redis, settings) -> None:
    """A real Redis server, not a cluster (.ci/run's cluster pass): the thread's client is a single server's."""
    if settings.REDIS_CLUSTER_NODES:
        pytest.skip("a cluster keeps its RedisCluster client (apps/common/redis_cluster.py)")


@pytest.fixture
def own_pool(single_server, settings) -> str:
    """get_redis() on a pool of its own (the URL keys django-redis's pools), its connections named: the test counts
    them in the pool and on the server."""
    name = f"gbm-test-{uuid.uuid4().hex[:8]}"
    location = f"{settings.REDIS_URL}?client_name={name}"
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": location}}
    return name


def pool_connections(client: Redis) -> int:
    """Connections the client's pool holds, lent or idle."""
    return sum(count for count, _ in client.connection_pool.get_connection_count())


def server_connections(name: str) -> int:
    return sum(1 for entry in get_redis_connection("default").client_list() if entry["name"] == name)


def in_threads(work, count: int = THREADS) -> list:
    results: list = [None] * count
    barrier = threading.Barrier(count)  # every thread alive at once: none can inherit another's connection

    def run(index: int) -> None:
        barrier.wait(timeout=10)
        results[index] = work()
        barrier.wait(timeout=10)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_each_thread_keeps_one_connection_of_the_pool(own_pool):
    def work():
        client = get_redis()
        ids = set()
        for index in range(20):
            assert get_redis() is client
            client.execute_command("SET", f"gbm:test:thread:{index}", "1", "NX", "EX", 60)
            ids.add(client.client_id())
        return client, ids

    results = in_threads(work)
    clients = {id(client) for client, _ in results}
    connection_ids = [ids for _, ids in results]
    assert len(clients) == THREADS
    assert all(len(ids) == 1 for ids in connection_ids)  # one connection per thread, every command
    assert len(set.union(*connection_ids)) == THREADS
    assert pool_connections(results[0][0]) <= THREADS
    assert server_connections(own_pool) <= THREADS


def test_a_thread_takes_its_connection_from_the_pool_once(own_pool, monkeypatch):
    client = get_redis()
    pool = client.connection_pool
    taken = []
    take = pool.get_connection
    monkeypatch.setattr(pool, "get_connection", lambda: taken.append(1) or take())
    for _ in range(50):
        client.set("gbm:test:once", "1")
        assert client.get("gbm:test:once") == b"1"
    assert len(taken) == 1


def test_pipelines_scripts_and_pubsub_work_beside_the_threads_connection(own_pool):
    client = get_redis()
    client.set("gbm:test:before", "1")
    pipe = client.pipeline(transaction=True)
    pipe.incr("gbm:test:counter").incr("gbm:test:counter")
    assert pipe.execute() == [1, 2]
    assert client.register_script("return redis.call('INCR', KEYS[1])")(keys=["gbm:test:counter"]) == 3
    pubsub = client.pubsub()
    pubsub.subscribe(f"gbm:test:{own_pool}")
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    client.publish(f"gbm:test:{own_pool}", "hello")
    assert pubsub.get_message(timeout=2)["data"] == b"hello"
    pubsub.close()
    assert client.get("gbm:test:before") == b"1"
    # The pipeline and pub/sub took their own connections and gave them back; the thread's stays lent.
    assert pool_connections(client) <= 3


def test_a_finished_thread_gives_its_connection_back(own_pool):
    for _ in range(5):  # one at a time: each reuses the connection the previous thread left
        in_threads(lambda: get_redis().ping(), count=1)
    assert pool_connections(get_redis()) <= 2  # a finished thread's, and this thread's once it asks


@pytest.mark.parametrize("client_of", [get_redis, lambda: get_redis_connection("default")], ids=["thread", "pool"])
def test_a_connection_the_server_closed_is_replaced_on_the_next_command(single_server, client_of):
    """CLIENT KILL (as a Redis restart does to every connection): the thread's client answers the next command on a
    new connection, as the pooled client always has (it checks each connection before lending it)."""
    client = client_of()
    killed = client.client_id()
    with Redis.from_url(settings.REDIS_URL) as admin:  # a connection of no pool under test (CLIENT KILL skips its own)
        assert admin.client_kill_filter(_id=killed) == 1
    assert client.execute_command("SET", "gbm:test:after-kill", "1", "NX", "EX", 60)
    assert client.client_id() != killed
    assert client.get("gbm:test:after-kill") == b"1"


def test_an_unreachable_redis_raises_at_the_command_every_time(redis_down):
    """Not at get_redis(): callers catch RedisError around the command (the nonce store falls back to the database)."""
    client = get_redis()
    for _ in range(2):
        with pytest.raises(RedisConnectionError):
            client.set("gbm:test:down", "1")
    with pytest.raises(RedisConnectionError):
        get_redis().set("gbm:test:down", "1")


def test_a_changed_redis_setting_gives_each_thread_a_new_client(single_server):
    before = get_redis()
    closed = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}}
    with override_settings(CACHES=closed):
        assert get_redis() is not before
        with pytest.raises(RedisConnectionError):
            get_redis().ping()
    assert get_redis().ping()


def test_a_forked_child_never_uses_its_parents_connection(own_pool):
    parent = get_redis()
    parent_id = parent.client_id()
    # Another thread's client, alive at the fork (gunicorn and Celery fork from a process that has threads).
    other: list[Redis] = []
    ready, done = threading.Event(), threading.Event()

    def hold() -> None:
        other.append(get_redis())
        other[0].ping()
        ready.set()
        done.wait(timeout=30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert ready.wait(timeout=10)
    other_id = other[0].client_id()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's teardown
        try:
            child = get_redis()
            ids = [child.client_id(), parent.client_id(), other[0].client_id()]
            report = f"{child is parent} {' '.join(map(str, ids))}"
        except BaseException as exc:  # anything goes back to the parent as text
            report = f"error {exc!r}"
        os.write(write_end, report.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        report = reader.read()
    os.waitpid(pid, 0)
    done.set()
    holder.join(timeout=10)
    same_client, *child_ids = report.split()
    assert same_client == "False", report
    # The child's own client, and the references it kept from before the fork, each on a connection of its own.
    assert not {int(id_) for id_ in child_ids} & {parent_id, other_id}
    assert parent.client_id() == parent_id  # the parent's connections were left alone
    assert other[0].client_id() == other_id
    assert parent.set("gbm:test:after-fork", "1")


def test_the_thread_client_only_on_a_single_redis_server():
    """The embedded fakeredis and a cluster keep the cache's own client (and its pool) as before."""
    single = not settings.REDIS_EMBEDDED and not settings.REDIS_CLUSTER_NODES
    assert isinstance(get_redis(), ThreadRedis) is single
    if not single:
        assert get_redis() is get_redis_connection("default")


@contextmanager
def redis_server(port: int) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with Redis(port=port, socket_connect_timeout=0.2) as probe:
                    probe.ping()
                break
            except RedisConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("client_of", [get_redis, lambda: get_redis_connection("default")], ids=["thread", "pool"])
def test_a_restarted_redis_raises_while_down_and_serves_once_back(settings, client_of):
    """The faults suite's case: Redis killed, then started again. While it is down every command raises (the
    nonce store falls back to the database), promptly; once it is back the next command is served."""
    if not shutil.which("redis-server"):
        if os.environ.get("GBM_REQUIRE_SERVICES") == "1":
            pytest.fail("required tool missing: redis-server (this test starts one of its own)", pytrace=False)
        pytest.skip("redis-server is not installed (apt-get install redis-server); this test starts one of its own")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{port}/0",
                                   "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 1.0}}}  # fmt: skip
    with redis_server(port):
        client = client_of()
        assert client.set("gbm:test:restart", "1")
    with redis_server(port):  # restarted between two commands: the next one is served
        assert client.set("gbm:test:restart", "2")
    for _ in range(2):  # down: every command raises, promptly
        started = time.monotonic()
        with pytest.raises(RedisConnectionError):
            client_of().set("gbm:test:restart", "3")
        assert time.monotonic() - started < 1.0
    with redis_server(port):
        assert client.set("gbm:test:restart", "4")
        assert client_of() is client  # the same client lived through it
