"""Suite-wide fixtures: a clean Redis per test and the real-service gates.

Tests that need a real server ask for ``mariadb``, ``real_redis`` or ``rabbitmq``. Where that
server is not configured or not reachable the test is skipped with the reason, so a laptop run
stays green and honest; with ``GBM_REQUIRE_SERVICES=1`` (CI) a missing service fails instead.

``--real-redis-only`` runs just the tests that use a real Redis: .ci/run's second pass on a Redis Cluster.
"""

import os

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections

from apps.common.redis import get_redis


def pytest_addoption(parser):
    parser.addoption(
        "--real-redis-only",
        action="store_true",
        help="run only the tests that use a real Redis (the real_redis fixture), e.g. again on a Redis Cluster",
    )


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--real-redis-only"):
        return
    kept = [item for item in items if "real_redis" in getattr(item, "fixturenames", ())]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


def service_missing(reason: str) -> None:
    if os.environ.get("GBM_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _clean_redis(request):
    """Each test starts with an empty Redis database (fakeredis, or db 15 of the real server).

    The process-memory level of the cache (apps/common/cache.py) is emptied with it.
    """
    from apps.common.cache import local_clear

    local_clear()
    try:
        get_redis().flushdb()
    except Exception:  # unreachable Redis: tests that need it use real_redis and say so
        if not settings.REDIS_EMBEDDED and "real_redis" in request.fixturenames:
            service_missing(f"Redis at {settings.REDIS_URL} is unreachable")
    yield


@pytest.fixture(autouse=True)
def _fresh_dcc_copy():
    """The process-local DCC copy outlives a test's rolled-back rows and flushed Redis: reset it too."""
    from apps.dcc.runtime import dcc_reset_local_state

    dcc_reset_local_state()
    yield
    dcc_reset_local_state()


@pytest.fixture(autouse=True)
def _fresh_nonce_store_state(monkeypatch):
    """The nonce store's process-local state (a copy to Redis pending, the log throttle) outlives a test."""
    from apps.channels import nonces

    monkeypatch.setattr(nonces, "_fallback_generation", 0)
    monkeypatch.setattr(nonces, "_copied_generation", 0)
    nonces._warn.reset()


@pytest.fixture
def demo(db):
    """The demo data (channels, goods, activities, shoppers) as ``load_demo`` writes it."""
    call_command("load_demo")


@pytest.fixture
def offer(db):
    """A group-buy offer of its own for tests the demo is incidental to: 3 seats, 100.00 with 20 off, 15 minutes,
    one per shopper, in a signed channel of its own (``an_offer`` in apps/activities/tests/factories.py)."""
    from apps.activities.tests.factories import an_offer

    return an_offer()


@pytest.fixture
def mall_offer(db, settings):
    """Like ``offer``, in the mall's own channel (``MALL_SOURCE``/``MALL_CHANNEL``): what the pages and the mall
    API of payments and storefront sell and buy."""
    from apps.activities.tests.factories import an_offer
    from apps.channels.tests.factories import ChannelCredentialFactory

    mall = ChannelCredentialFactory.create(
        source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL, notify_hosts="127.0.0.1\nlocalhost",
        notify_private_allowed=True,
    )  # fmt: skip
    return an_offer(credential=mall)


@pytest.fixture
def set_dcc(django_capture_on_commit_callbacks):
    """Change a DCC key the way staff do, and run the after-commit broadcast even inside a test transaction."""
    from apps.dcc.services import dcc_update

    def _set(key: str, value: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            dcc_update(key=key, value=value, changed_by=None, via="api")

    return _set


@pytest.fixture
def tasks_run_inline(monkeypatch):
    """``task.delay`` runs the task in process, whatever the broker (memory or RabbitMQ). Returns the calls.

    ``Task.apply_async`` is patched: ``delay`` calls it, and so does ``apps.common.task_enqueue``.

    Test settings queue tasks rather than run them (no eager mode, as in CI): a test that needs a task's effect
    asks for this fixture, usually with ``django_capture_on_commit_callbacks(execute=True)``.
    """
    from celery.app.task import Task

    calls: list[tuple[str, tuple]] = []

    def apply_async(task, args=None, kwargs=None, **options):
        calls.append((task.name, tuple(args or ())))
        return task.apply(args=args, kwargs=kwargs)

    monkeypatch.setattr(Task, "apply_async", apply_async)
    return calls


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium for browser tests (Playwright drives it; no browser download)."""
    import shutil

    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        service_missing("Chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture
def mariadb(db):
    if connection.vendor != "mysql":
        service_missing("DATABASE_URL does not point at MariaDB (set DATABASE_URL=mysql://...)")
    return connection


@pytest.fixture
def mariadb_tx(transactional_db):
    """Like ``mariadb``, without the test-wide transaction: for tests of COMMIT and ROLLBACK themselves."""
    if connection.vendor != "mysql":
        service_missing("DATABASE_URL does not point at MariaDB (set DATABASE_URL=mysql://...)")
    return connection


@pytest.fixture
def real_redis():
    if settings.REDIS_EMBEDDED:
        service_missing("REDIS_URL is not set; this test needs a real Redis")
    client = get_redis()
    try:
        client.ping()
    except Exception as exc:
        service_missing(f"Redis at {settings.REDIS_URL} is unreachable: {exc}")
    return client


def _point_redis_at_a_closed_port(settings) -> None:
    """Every Redis client (cache, bitmaps, DCC, nonces) at a closed port: connection refused at once.

    Changing CACHES makes Django drop its cache connections (setting_changed), so the next
    get_redis() / cache call connects to the dead address.
    """
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }


@pytest.fixture
def redis_down(settings):
    """Redis unreachable for the whole test."""
    _point_redis_at_a_closed_port(settings)


@pytest.fixture
def take_redis_down(settings):
    """Call it to make Redis unreachable from that point of the test on."""
    return lambda: _point_redis_at_a_closed_port(settings)


@pytest.fixture
def rabbitmq():
    from kombu import Connection

    if settings.BROKER_EMBEDDED:
        service_missing("BROKER_URL is not set; this test needs a real RabbitMQ")
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:
        service_missing(f"RabbitMQ at {settings.CELERY_BROKER_URL} is unreachable: {exc}")
    return settings.CELERY_BROKER_URL


# --- The replica alias (apps/common/db_routing.py; docs/decisions/017-...) ---------------------------------------
_real_replica_settings: dict | None = None


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """Point the "replica" alias at the primary's test database in every thread, not only this one.

    Django's TEST MIRROR re-points this thread's connection object only; a thread that opens its own (the live
    server, a concurrency test's workers) would build it from DATABASES["replica"]: the real replica's server
    and the unprefixed database name. So DATABASES["replica"] itself becomes the mirror; the real replica's
    settings are kept for ``real_replica``.
    """
    global _real_replica_settings
    from apps.common.db_routing import REPLICA_DB_ALIAS

    original = connections.settings[REPLICA_DB_ALIAS]
    if (
        original["HOST"] != connections["default"].settings_dict["HOST"]
        or original["PORT"] != (connections["default"].settings_dict["PORT"])
    ):
        _real_replica_settings = original
    mirror = _replica_settings(connections["default"].settings_dict)
    connections.settings[REPLICA_DB_ALIAS] = mirror
    connections[REPLICA_DB_ALIAS].close()
    connections[REPLICA_DB_ALIAS].settings_dict = mirror
    yield


def _replica_settings(primary: dict, *, server: dict | None = None) -> dict:
    """The replica alias's settings: the primary's test database, on ``server`` (default: the primary)."""
    settings_dict = {**primary, "TEST": {**primary["TEST"], "MIRROR": "default"}}
    if server is not None:
        for key in ("HOST", "PORT", "USER", "PASSWORD", "OPTIONS"):
            settings_dict[key] = server[key]
    return settings_dict


def _point_replica_alias(settings_dict: dict) -> None:
    from apps.common.db_routing import REPLICA_DB_ALIAS, replica_health_reset

    connections[REPLICA_DB_ALIAS].close()
    connections.settings[REPLICA_DB_ALIAS] = settings_dict
    connections[REPLICA_DB_ALIAS].settings_dict = settings_dict
    replica_health_reset()


@pytest.fixture
def replica_on(settings):
    """Lag-tolerant reads go to the "replica" alias (by default a second connection to the test database).

    Tests that use it run outside a test transaction (``django_db(transaction=True, databases=...)``): inside
    one, the router keeps every read on the primary, as it does inside a service's transaction.
    """
    from apps.common.db_routing import replica_health_reset

    settings.DATABASE_REPLICA_READS = True
    replica_health_reset()
    yield
    replica_health_reset()


@pytest.fixture
def real_replica(mariadb, replica_on):
    """The "replica" alias on the real replica (DATABASE_REPLICA_URL), reading the replicated test database.

    Returns a function that waits until the replica has applied everything the primary committed so far.
    """
    from apps.common.db_routing import REPLICA_DB_ALIAS

    if _real_replica_settings is None:
        service_missing("DATABASE_REPLICA_URL is not set; this test needs a MariaDB replica (.ci/mariadb-replica)")
    primary = connections["default"].settings_dict
    _point_replica_alias(_replica_settings(primary, server=_real_replica_settings))
    try:
        with connections[REPLICA_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT @@server_id")
            (replica_server_id,) = cursor.fetchone()
    except Exception as exc:
        _point_replica_alias(_replica_settings(primary))
        service_missing(f"the replica at {_real_replica_settings['HOST']}:{_real_replica_settings['PORT']}: {exc}")

    def caught_up(timeout: float = 10.0) -> None:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT @@gtid_binlog_pos")
            (position,) = cursor.fetchone()
        with connections[REPLICA_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT MASTER_GTID_WAIT(%s, %s)", [position, timeout])
            (waited,) = cursor.fetchone()
        assert waited == 0, f"the replica did not reach {position} within {timeout} s"

    caught_up.server_id = replica_server_id  # type: ignore[attr-defined]
    yield caught_up
    _point_replica_alias(_replica_settings(primary))


@pytest.fixture
def redis_commands(monkeypatch):
    """The Redis commands sent meanwhile, by name: counted where every client reads a command's answer
    (``Redis.parse_response``: the thread's own connection, the pool's, pipelines and the embedded Redis alike)."""
    from collections import Counter

    from redis import Redis

    sent: Counter[str] = Counter()
    parse = Redis.parse_response

    def counting(self, connection, command_name, **options):
        sent[str(command_name).upper()] += 1
        return parse(self, connection, command_name, **options)

    monkeypatch.setattr(Redis, "parse_response", counting)
    return sent


@pytest.fixture
def round_trips(mariadb_tx, monkeypatch):
    """The statements' round trips to MariaDB, as sent (``query`` calls of the client library; COMMIT and ROLLBACK
    go by their own calls)."""
    connection.ensure_connection()
    client = connection.connection
    sent: list[bytes] = []
    query = type(client).query

    def counting(self, sql):
        if self is client:
            sent.append(bytes(sql))
        return query(self, sql)

    monkeypatch.setattr(type(client), "query", counting)
    return sent
