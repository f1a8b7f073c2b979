"""Settings shared by every environment; everything variable comes from the environment."""

from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from config.env import (
    BASE_DIR,
    broker_is_embedded,
    broker_url,
    database_config,
    env,
    redis_cluster_nodes,
    redis_is_embedded,
    redis_url,
    replica_database_config,
)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-insecure-secret-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "django_prometheus",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "apps.common",
    "apps.accounts",
    "apps.channels",
    "apps.tags",
    "apps.activities",
    "apps.trade",
    "apps.payments",
    "apps.notifications",
    "apps.dcc",
    "apps.storefront",
    "apps.analytics",
    "apps.demo",
]

MIDDLEWARE = [
    # Serves the signed API's @lane_view views itself, past the rest (apps/common/lane.py).
    "apps.common.lane.LaneMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "apps.common.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.accounts.middleware.TrustedDeviceMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.common.middleware.ApiExceptionMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.notifications.context_processors.inbox",  # the bell's unread count, logged-in users only
            ],
        },
    },
]

DATABASES = {"default": database_config(BASE_DIR / "var" / "groupbuy.sqlite3")}
# A MariaDB replica for reads that tolerate lag, inside replica_reads() only (apps/common/db_routing.py).
# Unset (the embedded default): no alias, no router, every query on the primary.
_replica = replica_database_config(DATABASES["default"])
DATABASE_ROUTERS: list[str] = []
if _replica is not None:
    DATABASES["replica"] = _replica
    DATABASE_ROUTERS = ["apps.common.db_routing.ReplicaRouter"]
# Off: every read on the primary, the replica configured or not (an operator's switch; tests turn it on).
DATABASE_REPLICA_READS = env.bool("DATABASE_REPLICA_READS", default=True)
# The replica is bypassed while it is further behind than this, stopped, or unreachable; checked this often.
DATABASE_REPLICA_MAX_LAG_SECONDS = env.int("DATABASE_REPLICA_MAX_LAG_SECONDS", default=5)
DATABASE_REPLICA_CHECK_SECONDS = env.float("DATABASE_REPLICA_CHECK_SECONDS", default=5.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# i18n: Chinese first, English available (?lang via /i18n/setlang/ or Accept-Language).
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Redis (cache, team stock, crowd-tag bitmaps, locks, DCC pub/sub) -----------------------------
REDIS_URL = redis_url()
REDIS_EMBEDDED = redis_is_embedded()
# A Redis Cluster (REDIS_CLUSTER_NODES): the cache client returns redis-py's RedisCluster, and with it get_redis()
# everywhere (apps/common/redis_cluster.py, docs/decisions/019-redis-cluster.md).
REDIS_CLUSTER_NODES = redis_cluster_nodes()
_redis_options = {
    "CLIENT_CLASS": "django_redis.client.DefaultClient",
    "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=0.5),
    "SOCKET_TIMEOUT": env.float("REDIS_SOCKET_TIMEOUT", default=1.0),
}
if REDIS_EMBEDDED:
    # Every FakeConnection to the same host shares one in-process server (with Lua via lupa).
    from fakeredis import FakeRedisConnection

    _redis_options["CONNECTION_POOL_KWARGS"] = {"connection_class": FakeRedisConnection}
if REDIS_CLUSTER_NODES:
    _redis_options["CLIENT_CLASS"] = "apps.common.redis_cluster.ClusterCacheClient"
# Tests turn it on: a Lua script called with keys of different hash slots fails on any Redis, not only a cluster.
REDIS_CHECK_SCRIPT_SLOTS = env.bool("REDIS_CHECK_SCRIPT_SLOTS", default=False)
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": ",".join(f"redis://{node}/0" for node in REDIS_CLUSTER_NODES) or REDIS_URL,
        "KEY_PREFIX": env.str("REDIS_KEY_PREFIX", default="gbm"),
        "OPTIONS": _redis_options,
    }
}

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = broker_url()
BROKER_EMBEDDED = broker_is_embedded()
# Eager only in the embedded demo: there is no worker process to hand work to.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=BROKER_EMBEDDED)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE: dict = {
    # Each job takes a Redis lock first, so several beat/worker instances never run it twice at once.
    "deliver-due-notify-tasks": {"task": "apps.notifications.tasks.deliver_due_notify_tasks", "schedule": 15.0},
    "trade-timeouts": {"task": "apps.trade.tasks.run_trade_timeouts", "schedule": 30.0},
    "sync-own-teams-mirror": {"task": "apps.trade.tasks.sync_own_teams_mirror", "schedule": 60.0},
    # Idempotent (deletes past days' take counters): no lock.
    "purge-daily-takes": {"task": "apps.trade.tasks.purge_daily_takes", "schedule": 3600.0},
    "close-expired-mall-orders": {"task": "apps.payments.tasks.close_expired_mall_orders", "schedule": 60.0},
    # Shoppers' reminders (team formed / failed and refunded / about to expire) and team_expiring callbacks.
    "send-team-reminders": {"task": "apps.payments.tasks.send_team_reminders", "schedule": 15.0},
    "purge-team-reminders": {"task": "apps.payments.tasks.purge_team_reminders", "schedule": 3600.0},
    # No lock needed: deleting expired nonces and copying live ones into Redis are idempotent. The task lives in
    # apps/channels/tasks.py under the name it had in accounts (stable for queued messages and beat rows).
    "purge-expired-nonces": {"task": "apps.accounts.tasks.purge_expired_nonces", "schedule": 300.0},
}
# The embedded server (`make run`) runs this schedule in process when no real beat can exist (the broker is
# embedded): config/embedded_beat.py. The speed-up divides every interval (tests; a demo in fast motion).
EMBEDDED_BEAT = env.bool("EMBEDDED_BEAT", default=BROKER_EMBEDDED)
EMBEDDED_BEAT_SPEEDUP = env.float("EMBEDDED_BEAT_SPEEDUP", default=1.0)

# Message bus for team callbacks (notify tasks of type MQ): the broker unless set apart.
GBM_EXCHANGE = "group_buy_market_exchange"
# Its queues: <prefix>_team_success, <prefix>_team_refund (apps/common/mq.py), quorum queues on RabbitMQ.
GBM_QUEUE_PREFIX = "group_buy_market"
GBM_MQ_URL = env.str("GBM_MQ_URL", default="") or CELERY_BROKER_URL
GBM_MQ_CONNECT_TIMEOUT = env.float("GBM_MQ_CONNECT_TIMEOUT", default=3.0)
# Notify outbox delivery: attempts before a task is marked failed, and the backoff between them.
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=5)
NOTIFY_BACKOFF_SECONDS = env.int("NOTIFY_BACKOFF_SECONDS", default=15)
NOTIFY_BACKOFF_MAX_SECONDS = env.int("NOTIFY_BACKOFF_MAX_SECONDS", default=3600)
NOTIFY_HTTP_TIMEOUT_SECONDS = env.float("NOTIFY_HTTP_TIMEOUT_SECONDS", default=5.0)
NOTIFY_LEASE_SECONDS = env.int("NOTIFY_LEASE_SECONDS", default=60)
NOTIFY_BATCH_SIZE = env.int("NOTIFY_BATCH_SIZE", default=100)

# --- DRF / OpenAPI ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "apps.common.api.exception_handler",
    "DEFAULT_METADATA_CLASS": "apps.common.api.EnvelopeMetadata",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "groupbuy API",
    "DESCRIPTION": "Group-buy (拼团) trading platform: signed channel API, mall API, payment gateway.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every JSON answer is described inside the real envelope {code, info, data} (apps/common/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.common.schema.envelope_postprocessing_hook",
    ],
}

# /api/schema/ and /api/docs/ for anyone (True) or staff only (False, production's default).
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=True)
# Production's guards (config/guards.py): load_demo may run here; no start-time deploy checks.
DEMO_DATA_ALLOWED = True
REFUSE_UNSAFE_START = False

# --- Domain settings ----------------------------------------------------------------------------
# Which (source, channel) the built-in mall uses when it calls the group-buy services in process.
MALL_SOURCE = env.str("MALL_SOURCE", default="s01")
MALL_CHANNEL = env.str("MALL_CHANNEL", default="c01")
SIGNATURE_CLOCK_SKEW = timedelta(seconds=env.int("SIGNATURE_CLOCK_SKEW_SECONDS", default=300))
SIGNATURE_NONCE_TTL = timedelta(seconds=env.int("SIGNATURE_NONCE_TTL_SECONDS", default=600))
# Dynamic config: changes are broadcast on this Redis channel; each process also re-syncs
# periodically in case it missed a message (e.g. while Redis was restarting). Pub/sub spans every Redis database:
# two deployments on one Redis server (or a test's nodes, tests/infra/test_web_nodes.py) each name their own.
DCC_PUBSUB_CHANNEL = env.str("DCC_PUBSUB_CHANNEL", default="group_buy_market_dcc")
DCC_RESYNC_SECONDS = env.int("DCC_RESYNC_SECONDS", default=30)
# Cache invalidations (apps/common/cache.py) are broadcast here; the DCC subscriber applies them.
CACHE_INVALIDATION_CHANNEL = env.str("CACHE_INVALIDATION_CHANNEL", default="group_buy_market_cache")
# How long a process keeps configuration it read from Redis (activities, SKUs, credentials) in memory;
# invalidations arrive over pub/sub at once, this bounds staleness only when they cannot.
LOCAL_CACHE_TTL_SECONDS = env.float("LOCAL_CACHE_TTL_SECONDS", default=30.0)
# Trial data loading: bounded thread pool and per-load timeout.
TRIAL_LOADER_THREADS = env.int("TRIAL_LOADER_THREADS", default=4)
TRIAL_LOADER_TIMEOUT_SECONDS = env.float("TRIAL_LOADER_TIMEOUT_SECONDS", default=2.0)
# Trials are counted in process memory and written to the analytics table this often (apps/activities/
# trial_counts.py): a crash loses at most one interval's trials. 0: no flush thread (tests flush by hand).
TRIAL_COUNT_FLUSH_SECONDS = env.float("TRIAL_COUNT_FLUSH_SECONDS", default=5.0)
ACTIVITY_CACHE_TTL_SECONDS = env.int("ACTIVITY_CACHE_TTL_SECONDS", default=300)

# Payment gateway: Alipay when its app id and both keys are set, else the built-in sandbox gateway
# (apps/payments/gateways). Keys are PEM, or the bare base64 Alipay's key tool prints; "\n" may stand for
# newlines. ALIPAY_DEBUG: Alipay's own sandbox environment (openapi-sandbox.dl.alipaydev.com).
ALIPAY_APP_ID = env.str("ALIPAY_APP_ID", default="")
ALIPAY_APP_PRIVATE_KEY = env.str("ALIPAY_APP_PRIVATE_KEY", default="")
ALIPAY_PUBLIC_KEY = env.str("ALIPAY_PUBLIC_KEY", default="")
ALIPAY_DEBUG = env.bool("ALIPAY_DEBUG", default=False)
# Where gateways send payment notifies and return shoppers: configuration, never a request's Host header
# (a shopper sending Host: evil.example must not receive signed notifies). Unset: the SERVER_BASE_URL
# environment variable (run_embedded sets it from its addrport), else http://127.0.0.1:8000, which fits the
# embedded demo only; production must set it (config/guards.py, deploy check payments.W002).
PAYMENT_NOTIFY_BASE_URL = env.str("PAYMENT_NOTIFY_BASE_URL", default="")
# The built-in sandbox gateway: its app id (checked in its notifies); its signing key (absent: generated once
# and kept in pay_sandbox_key, shared by every process on the database); its notify delivery: retries after
# the first attempt, the first retry's delay in seconds (doubled each retry), one attempt's HTTP timeout.
SANDBOX_APP_ID = env.str("SANDBOX_APP_ID", default="sandbox")
SANDBOX_PRIVATE_KEY_PEM = env.str("SANDBOX_PRIVATE_KEY_PEM", default="")
SANDBOX_NOTIFY_MAX_RETRIES = env.int("SANDBOX_NOTIFY_MAX_RETRIES", default=5)
SANDBOX_NOTIFY_BACKOFF_SECONDS = env.int("SANDBOX_NOTIFY_BACKOFF_SECONDS", default=5)
SANDBOX_NOTIFY_TIMEOUT_SECONDS = env.int("SANDBOX_NOTIFY_TIMEOUT_SECONDS", default=5)
# Unpaid mall orders closed per UPDATE by the close job (apps/payments/orders.py).
MALL_ORDER_CLOSE_BATCH = env.int("MALL_ORDER_CLOSE_BATCH", default=500)
# Team reminders (apps/payments/reminders.py): a team formed, or a refund made, longer ago than this is no news
# any more and is not announced.
REMINDER_LOOKBACK_MINUTES = env.int("REMINDER_LOOKBACK_MINUTES", default=120)

# E-mail (reminders to shoppers with an address: apps/notifications/senders.py). SMTP unless EMAIL_BACKEND says
# otherwise; the embedded default prints to the console (config/settings/local.py), tests keep them in memory.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="groupbuy <noreply@localhost>")

LOGIN_URL = "/login"
# WeChat official-account token for the scan-login portal (signature = sha1 of sorted token/timestamp/nonce).
WEIXIN_TOKEN = env.str("WEIXIN_TOKEN", default="groupbuy-weixin-token")
# Password login throttle (apps/accounts/throttle.py): failed attempts within a window, per username
# (case-folded) and per client address; over either limit → 0006 / HTTP 429 until the window ends. 0 = off.
LOGIN_THROTTLE_WINDOW_SECONDS = env.int("LOGIN_THROTTLE_WINDOW_SECONDS", default=900)
LOGIN_THROTTLE_ACCOUNT_FAILURES = env.int("LOGIN_THROTTLE_ACCOUNT_FAILURES", default=5)
LOGIN_THROTTLE_ADDRESS_FAILURES = env.int("LOGIN_THROTTLE_ADDRESS_FAILURES", default=20)
# The META key of the client's address when a trusted proxy sets it (nginx's X-Real-IP: "HTTP_X_REAL_IP";
# an X-Forwarded-For list counts by its last entry). Empty: REMOTE_ADDR. Behind nginx it must be set, else
# every client shares nginx's address; never set it where clients reach the app directly (they forge it).
CLIENT_IP_HEADER = env.str("CLIENT_IP_HEADER", default="")

# --- Logging: structlog over stdlib, one handler; see apps/common/logging.py ------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# "json" (one JSON object per line) or "console" (for people); empty: console when DEBUG, else json.
LOG_FORMAT = env.str("LOG_FORMAT", default="")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": {"()": "apps.common.logging.StructuredFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "structured"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
    },
}
