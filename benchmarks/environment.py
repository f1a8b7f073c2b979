"""Where the benchmarked server runs: its own MariaDB database, Redis database 14, the local RabbitMQ.

Nothing here touches the development or test data: the defaults name a database (``groupbuy_bench``), a
Redis database (14) and a Celery queue (``groupbuy_bench``, ``benchmarks/settings.py``) of their own;
``BENCH_DATABASE_URL``, ``BENCH_REDIS_URL``, ``BENCH_QUEUE`` and ``BENCH_BROKER_URL`` override them and the
broker (two benches on one machine, each with names of its own, do not meet).
Every service must be on this machine (loopback), and so is the server under test. The harness reads the
bench database and Redis itself (``connect_database``, ``connect_redis``) to check invariants after a run.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import unquote, urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_DATABASE_URL = "mysql://root@127.0.0.1:3306/groupbuy_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"

# config.settings.production with the bench's own Celery queue (benchmarks/settings.py says why).
SETTINGS_MODULE = "benchmarks.settings"
DEFAULT_QUEUE = "groupbuy_bench"
_DB_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_REQUIRED_SECRETS = ("DJANGO_SECRET_KEY", "WEIXIN_TOKEN")  # production.py reads them with no default
# Inherited from a developer's shell, these would change what is measured; the bench sets its own.
_DROPPED_PREFIXES = ("DJANGO_", "GUNICORN_", "PROMETHEUS_", "CELERY_", "ALIPAY_", "PAYMENT_", "DATABASE_REPLICA_")
# Production settings refuse what a deployment must not run with (config/guards.py). The bench opts in
# explicitly to exactly what is true of it alone: it loads the demo data into its own loopback database
# (benchmarks.fixtures; the signed suites use the demo channel secrets), and it pays no order, so the
# sandbox gateway and a notify URL nobody calls are harmless here.
BENCH_OPT_INS = {
    "GBM_ALLOW_DEMO_DATA": "1",
    "PAYMENT_SANDBOX_ALLOWED": "1",
    "PAYMENT_NOTIFY_BASE_URL": "https://localhost",
}


class SetupError(RuntimeError):
    """The bench could not be set up: services misconfigured or unreachable, server not starting."""


def _is_loopback(host: str | None) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def mask_url(url: str) -> str:
    """The URL without its password, for reports and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


@dataclass(frozen=True)
class BenchEnvironment:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL
    broker_url: str = DEFAULT_BROKER_URL
    queue: str = DEFAULT_QUEUE  # the Celery queue of the bench's processes (benchmarks/settings.py)
    # Production settings require these secrets with no default (fail fast): fresh random ones per run are all
    # a benchmark needs, the same for every process of the run (gunicorn, the Celery worker). A secret
    # production settings start to require goes into _REQUIRED_SECRETS.
    django_secrets: dict[str, str] = field(
        default_factory=lambda: {name: f"bench-{secrets.token_urlsafe(48)}" for name in _REQUIRED_SECRETS},
        repr=False,
        compare=False,
    )

    @classmethod
    def from_environ(cls, environ: os._Environ[str] | dict[str, str] = os.environ) -> BenchEnvironment:
        return cls(
            database_url=environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL,
            redis_url=environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL,
            broker_url=environ.get("BENCH_BROKER_URL") or DEFAULT_BROKER_URL,
            queue=environ.get("BENCH_QUEUE") or DEFAULT_QUEUE,
        )

    def check(self) -> None:
        """Refuse anything but MariaDB and services on this machine."""
        if urlsplit(self.database_url).scheme not in ("mysql", "mariadb"):
            raise SetupError(f"the bench needs MariaDB, got {mask_url(self.database_url)}")
        for url in (self.database_url, self.redis_url, self.broker_url):
            if not _is_loopback(urlsplit(url).hostname):
                raise SetupError(f"the bench only talks to services on loopback, not {mask_url(url)}")
        if not _QUEUE_NAME.fullmatch(self.queue):
            raise SetupError(f"unexpected queue name {self.queue!r}")

    def describe(self) -> dict[str, str]:
        return {
            "settings": f"{SETTINGS_MODULE} (config.settings.production, Celery queue {self.queue})",
            "database": mask_url(self.database_url),
            "redis": mask_url(self.redis_url),
            "broker": mask_url(self.broker_url),
        }

    def django_environ(self, **extra: str) -> dict[str, str]:
        """The environment of every Django process of the bench: production settings, the bench's services."""
        environ = {key: value for key, value in os.environ.items() if not key.startswith(_DROPPED_PREFIXES)}
        environ.update(self.django_secrets)
        environ.update(BENCH_OPT_INS)
        environ.update(
            DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            # No TLS on loopback: without this every request would be a redirect to https.
            DJANGO_SECURE_SSL_REDIRECT="false",
            DB_CONN_MAX_AGE="60",
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            BROKER_URL=self.broker_url,
            LOG_LEVEL="INFO",
            GBM_BENCH_QUEUE=self.queue,
        )
        environ.pop("GUNICORN_CMD_ARGS", None)
        environ.update(extra)
        return environ

    def create_database(self) -> None:
        """``CREATE DATABASE IF NOT EXISTS`` (utf8mb4, as the test database): the bench's own schema."""
        name = self.database_name()
        connection = self.connect_database(with_database=False)
        try:
            connection.cursor().execute(
                f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        finally:
            connection.close()

    def database_name(self) -> str:
        name = unquote(urlsplit(self.database_url).path.lstrip("/"))
        if not _DB_NAME.fullmatch(name):
            raise SetupError(f"unexpected database name {name!r}")
        return name

    def connect_database(self, *, with_database: bool = True) -> Any:
        """A MySQLdb connection (autocommit: every query sees the latest commits) to the bench database."""
        import MySQLdb  # installed by `make bench` (requirements/mysql.txt)

        parts = urlsplit(self.database_url)
        try:
            connection = MySQLdb.connect(
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 3306,
                user=unquote(parts.username or "root"),
                password=unquote(parts.password or ""),
                connect_timeout=5,
                charset="utf8mb4",
                **({"database": self.database_name()} if with_database else {}),
            )
        except MySQLdb.Error as exc:
            raise SetupError(f"MariaDB at {mask_url(self.database_url)} is unreachable: {exc}") from exc
        connection.autocommit(True)
        return connection

    def connect_redis(self) -> Any:
        """A client of the bench's Redis database (the one the server uses)."""
        import redis  # a dependency of django-redis

        return redis.Redis.from_url(self.redis_url, socket_timeout=5, socket_connect_timeout=5)

    def purge_queue(self) -> int:
        """Drop the messages waiting in the bench's Celery queue (0 when it does not exist yet): the settle
        suite's callbacks, enqueued for no worker, must not reach the notify suite's worker."""
        import amqp.exceptions
        from kombu import Connection

        try:
            with Connection(self.broker_url, connect_timeout=5) as connection:
                return int(connection.default_channel.queue_purge(self.queue) or 0)
        except amqp.exceptions.NotFound:
            return 0
        except OSError as exc:
            raise SetupError(f"RabbitMQ at {mask_url(self.broker_url)} is unreachable: {exc}") from exc

    def load_fixtures(self, *, timeout_s: float = 600.0) -> None:
        """Migrate, load the demo data and rebuild Redis state, in one Django process (``benchmarks.fixtures``)."""
        completed = subprocess.run(
            [sys.executable, "-m", "benchmarks.fixtures"],
            cwd=REPO_ROOT,
            env=self.django_environ(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if completed.returncode != 0:
            raise SetupError("preparing the bench database failed:\n" + (completed.stdout + completed.stderr)[-4000:])


@dataclass(frozen=True)
class SuiteEnvironment(BenchEnvironment):
    """A suite's own database, Redis database and settings module on the bench's services.

    Subclasses set the defaults (``database_url``, ``redis_url``), ``env_prefix`` (``<PREFIX>_DATABASE_URL`` and
    ``<PREFIX>_REDIS_URL`` override them) and ``settings_module`` with a note for the report.
    """

    env_prefix: ClassVar[str]
    settings_module: ClassVar[str]
    settings_note: ClassVar[str]

    @classmethod
    def from_environ(cls, environ: os._Environ[str] | dict[str, str] = os.environ) -> Self:
        defaults = cls()
        return cls(
            database_url=environ.get(f"{cls.env_prefix}_DATABASE_URL") or defaults.database_url,
            redis_url=environ.get(f"{cls.env_prefix}_REDIS_URL") or defaults.redis_url,
            broker_url=environ.get("BENCH_BROKER_URL") or defaults.broker_url,
        )

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "settings": f"{self.settings_module} ({self.settings_note})"}

    def django_environ(self, **extra: str) -> dict[str, str]:
        return super().django_environ(**{"DJANGO_SETTINGS_MODULE": self.settings_module, **extra})
