"""pytest settings: the same services as local (embedded unless URLs are set), fast hashing."""

from config.settings.base import *  # noqa: F403
from config.settings.base import BASE_DIR, CACHES, DATABASES, REDIS_CLUSTER_NODES, REDIS_EMBEDDED, REDIS_URL, env

DEBUG = False
SECRET_KEY = "test-secret-key"  # noqa: S105 - tests only
LOG_FORMAT = env.str("LOG_FORMAT", default="console")  # readable in pytest and CI output; json in production
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Keep test keys apart from anything a developer's `make run` left in a shared Redis.
CACHES["default"]["KEY_PREFIX"] = env.str("REDIS_KEY_PREFIX", default="gbm-test")
MEDIA_ROOT = BASE_DIR / "var" / "test-media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Tests flush their Redis database between tests: never the one a developer's app uses. A cluster has only
# database 0: the test pass on a cluster (.ci/run) gets a cluster of its own (.ci/redis-cluster.sh).
if not REDIS_EMBEDDED and not REDIS_CLUSTER_NODES:
    REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/" + env.str("TEST_REDIS_DB", default="15")
    CACHES["default"]["LOCATION"] = REDIS_URL
# Every Lua script call checks that its keys share one cluster hash slot, on any Redis (apps/common/redis_scripts.py).
REDIS_CHECK_SCRIPT_SLOTS = True
# Pub/sub channels span every Redis database: keep test broadcasts away from a running app, and from another
# test run on the same server (each run has its own key prefix).
DCC_PUBSUB_CHANNEL = f"group_buy_market_dcc_test:{CACHES['default']['KEY_PREFIX']}"
CACHE_INVALIDATION_CHANNEL = f"group_buy_market_cache_test:{CACHES['default']['KEY_PREFIX']}"
# The bus likewise: the test run's own exchange and queues on a shared RabbitMQ, never a running app's (whose
# queues may hold messages, or be of another type: apps/common/mq.py).
GBM_EXCHANGE = f"gbm_test_exchange_{CACHES['default']['KEY_PREFIX']}"
GBM_QUEUE_PREFIX = f"gbm_test_{CACHES['default']['KEY_PREFIX']}"

# Tasks are queued, not run inline, as in CI and production: ``.delay()`` reaches the broker through the
# on-commit path (the embedded memory broker holds the message with no worker to take it). A test that needs
# a task's effect asks for the ``tasks_run_inline`` fixture (conftest.py).
CELERY_TASK_ALWAYS_EAGER = False

# Reminder e-mails stay in memory (django.core.mail.outbox), whatever the environment says.
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# No background thread writing trial counts into a test's database: tests flush them by hand.
TRIAL_COUNT_FLUSH_SECONDS = 0
# A "replica" alias in every run, so the routing tests run everywhere: DATABASE_REPLICA_URL's server when set,
# else a second connection to the primary. Either way a TEST mirror of the primary: no test database is created
# on it; the root conftest points it at the primary's test database in every thread, and the ``real_replica``
# fixture at the real replica (docs/decisions/017-a-mariadb-replica-for-lag-tolerant-reads.md). Reads stay on
# the primary unless a test turns them on (``replica_on`` fixture).
if "replica" not in DATABASES:
    _primary = DATABASES["default"]
    DATABASES["replica"] = {**_primary, "TEST": {**_primary.get("TEST", {}), "MIRROR": "default"}}
DATABASE_ROUTERS = ["apps.common.db_routing.ReplicaRouter"]
DATABASE_REPLICA_READS = False
