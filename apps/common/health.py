"""Readiness probes for /readyz: each answers (ok, detail) and never raises."""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from kombu import Connection

from apps.common.redis import get_redis

logger = logging.getLogger(__name__)


def check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True, connection.vendor
    except Exception as exc:  # a probe reports, it does not fail the request
        logger.warning("readyz: database unreachable: %s", exc)
        return False, type(exc).__name__


def check_redis() -> tuple[bool, str]:
    try:
        get_redis().ping()
        return True, "embedded" if settings.REDIS_EMBEDDED else "redis"
    except Exception as exc:
        logger.warning("readyz: redis unreachable: %s", exc)
        return False, type(exc).__name__


def check_broker() -> tuple[bool, str]:
    if settings.BROKER_EMBEDDED:
        return True, "memory"
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "amqp"
    except Exception as exc:
        logger.warning("readyz: broker unreachable: %s", exc)
        return False, type(exc).__name__


READINESS_CHECKS: dict[str, Callable[[], tuple[bool, str]]] = {
    "database": check_database,
    "redis": check_redis,
    "broker": check_broker,
}


def readiness() -> tuple[bool, dict[str, dict]]:
    results = {}
    for name, check in READINESS_CHECKS.items():
        ok, detail = check()
        results[name] = {"ok": ok, "detail": detail}
    return all(r["ok"] for r in results.values()), results
