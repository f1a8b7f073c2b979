"""Environment access in one place.

The same code runs in two shapes:

* **embedded** (nothing set): SQLite, an in-process fakeredis with Lua, Celery eager with the
  in-memory broker. This is what `make run` and a bare `make test` use.
* **services**: ``DATABASE_URL`` (MariaDB), ``REDIS_URL`` and ``BROKER_URL`` (RabbitMQ) point at
  real servers. Each URL switches its own part, so any mix works. ``DATABASE_REPLICA_URL`` adds a
  MariaDB replica for lag-tolerant reads (``apps/common/db_routing.py``); ``REDIS_CLUSTER_NODES`` (``host:port``
  list) puts Redis on a Redis Cluster instead (docs/decisions/019-redis-cluster.md).
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

EMBEDDED_REDIS_URL = "redis://embedded:6379/0"
EMBEDDED_BROKER_URL = "memory://"
# Django's MySQL backend without the SET autocommit round trips around each transaction
# (docs/decisions/020-transactions-without-set-autocommit.md).
MYSQL_ENGINE = "apps.common.mysql"


def _database_url(var: str, **kwargs: str) -> dict:
    config = env.db_url(var, **kwargs)
    if config["ENGINE"] == "django.db.backends.mysql":
        config["ENGINE"] = MYSQL_ENGINE
    return config


def database_config(default_sqlite: Path) -> dict:
    """Django DATABASES['default'] from DATABASE_URL, or SQLite in the embedded shape."""
    config = _database_url("DATABASE_URL", default=f"sqlite:///{default_sqlite}")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        default_sqlite.parent.mkdir(parents=True, exist_ok=True)
        # Writers take the lock when their transaction begins: no upgrade deadlocks between threads.
        config.setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
    if config["ENGINE"] == MYSQL_ENGINE:
        options = config.setdefault("OPTIONS", {})
        options.setdefault("charset", "utf8mb4")
        # Strict mode: truncation and bad values are errors, never silent rewrites.
        options.setdefault(
            "init_command",
            "SET sql_mode='STRICT_TRANS_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO'",
        )
        options.setdefault("isolation_level", "read committed")
        config.setdefault("TEST", {}).update({"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"})
    config.setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
    # Django's own backends: django-prometheus's cursor wrapper cost ~0.2 ms of CPU per request. Per-query
    # metrics come from MariaDB's own exporter instead (docs/decisions/011-database-metrics-from-mariadb.md).
    config["ATOMIC_REQUESTS"] = False
    return config


def replica_database_config(primary: dict) -> dict | None:
    """DATABASES['replica'] from DATABASE_REPLICA_URL (None when unset or the primary is SQLite): the primary's
    engine options.

    Its TEST settings mirror the primary's: a test run never creates (or migrates) a database on the replica;
    replication brings the test database there (docs/decisions/017-a-mariadb-replica-for-lag-tolerant-reads.md).
    """
    if not env.str("DATABASE_REPLICA_URL", default="") or primary["ENGINE"] == "django.db.backends.sqlite3":
        return None  # the embedded shape has no replica, whatever a shell left in DATABASE_REPLICA_URL
    config = _database_url("DATABASE_REPLICA_URL")
    if config["ENGINE"] != primary["ENGINE"]:
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must use the same engine as DATABASE_URL (MariaDB).")
    options = config.setdefault("OPTIONS", {})
    for key, value in primary.get("OPTIONS", {}).items():
        options.setdefault(key, value)
    # An unreachable replica costs a lag-tolerant read this long once per health check, then it is bypassed.
    options.setdefault("connect_timeout", env.int("DATABASE_REPLICA_CONNECT_TIMEOUT", default=2))
    config["TEST"] = {**primary.get("TEST", {}), "MIRROR": "default"}
    for key in ("CONN_MAX_AGE", "ATOMIC_REQUESTS"):
        config[key] = primary[key]
    return config


def redis_cluster_nodes() -> list[str]:
    """``host:port`` of the Redis Cluster's startup nodes (``REDIS_CLUSTER_NODES``, comma or space separated);
    empty when Redis is a single server or embedded."""
    return env.str("REDIS_CLUSTER_NODES", default="").replace(",", " ").split()


def redis_url() -> str:
    """REDIS_URL; on a cluster without one, the first node's (for logs and health output only)."""
    nodes = redis_cluster_nodes()
    return env.str("REDIS_URL", default="") or (f"redis://{nodes[0]}/0" if nodes else EMBEDDED_REDIS_URL)


def redis_is_embedded() -> bool:
    return redis_url() == EMBEDDED_REDIS_URL


def broker_url() -> str:
    return env.str("BROKER_URL", default="") or EMBEDDED_BROKER_URL


def broker_is_embedded() -> bool:
    return broker_url() == EMBEDDED_BROKER_URL
