"""Production: real services required, secrets required, HTTPS behind nginx.

Importing these settings refuses (ImproperlyConfigured) what the environment alone decides; what needs the
database is refused when a process starts. Both stages and the explicit opt-ins: config/guards.py.
"""

from django.core.exceptions import ImproperlyConfigured

from config.guards import DEMO_CREDENTIAL_CHECKS, refuse, settings_problems
from config.settings.base import *  # noqa: F403
from config.settings.base import (
    ALIPAY_APP_ID,
    ALIPAY_APP_PRIVATE_KEY,
    ALIPAY_PUBLIC_KEY,
    BROKER_EMBEDDED,
    CELERY_BROKER_URL,
    DATABASES,
    GBM_MQ_URL,
    PAYMENT_NOTIFY_BASE_URL,
    REDIS_EMBEDDED,
    REDIS_URL,
    env,
)

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")  # no default: fail fast
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
WEIXIN_TOKEN = env.str("WEIXIN_TOKEN")  # no default: fail fast

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    raise ImproperlyConfigured("Production needs DATABASE_URL (MariaDB).")
if REDIS_EMBEDDED or BROKER_EMBEDDED:
    raise ImproperlyConfigured("Production needs REDIS_URL and BROKER_URL.")

# Explicit opt-ins (config/guards.py): each one a decision an operator writes down, never a default.
PAYMENT_SANDBOX_ALLOWED = env.bool("PAYMENT_SANDBOX_ALLOWED", default=False)
PAYMENT_NOTIFY_ALLOW_HTTP = env.bool("PAYMENT_NOTIFY_ALLOW_HTTP", default=False)
DEMO_DATA_ALLOWED = env.bool("GBM_ALLOW_DEMO_DATA", default=False)
refuse(
    settings_problems(
        {
            "SECRET_KEY": SECRET_KEY,
            "WEIXIN_TOKEN": WEIXIN_TOKEN,
            "DATABASE_URL": env.str("DATABASE_URL", default=""),
            "DATABASE_REPLICA_URL": env.str("DATABASE_REPLICA_URL", default=""),
            "REDIS_URL": REDIS_URL,
            "BROKER_URL": CELERY_BROKER_URL,
            "GBM_MQ_URL": GBM_MQ_URL,
            "PAYMENT_NOTIFY_BASE_URL": PAYMENT_NOTIFY_BASE_URL,
            "ALIPAY_APP_ID": ALIPAY_APP_ID,
            "ALIPAY_APP_PRIVATE_KEY": ALIPAY_APP_PRIVATE_KEY,
            "ALIPAY_PUBLIC_KEY": ALIPAY_PUBLIC_KEY,
        },
        sandbox_allowed=PAYMENT_SANDBOX_ALLOWED,
        notify_allow_http=PAYMENT_NOTIFY_ALLOW_HTTP,
    ),
    what="Production settings",
)
# The WSGI application and the Celery worker/beat run the database-backed security checks at start.
REFUSE_UNSAFE_START = True
# The API schema and Swagger UI map every endpoint: staff only unless published on purpose.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=False)

DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
# No health check (a ping round trip before every request's first query): a connection the server dropped fails
# its first query, which answers 0007 "retry" (HTTP 503; every write is idempotent on the client's key) and is
# closed at the end of that request, so the next one reconnects (docs/decisions/010-the-signed-api-lane.md).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
if "replica" in DATABASES:  # the same connection policy on the replica (config/env.py: replica_database_config)
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = False

# nginx terminates TLS and sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
USE_X_FORWARDED_HOST = True

# A deploy warning an explicit opt-out answers is silenced, so `check --deploy --fail-level WARNING` (the
# release step) reports only what nobody decided.
SILENCED_SYSTEM_CHECKS = [
    *(["payments.W001"] if PAYMENT_SANDBOX_ALLOWED else []),
    *(["security.W008"] if not SECURE_SSL_REDIRECT else []),  # the proxy in front redirects to https
    *(DEMO_CREDENTIAL_CHECKS if DEMO_DATA_ALLOWED else ()),
]
