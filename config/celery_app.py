"""Celery application. Tasks live in each app's tasks.py and are found by autodiscovery.

Logging: the worker and beat keep Django's ``LOGGING`` (one structlog pipeline, level from ``LOG_LEVEL``)
instead of Celery's own handlers, and every record a task logs carries its ``task_id`` and ``task_name``.
With production settings, the worker and beat refuse to start on a database with demo credentials.
"""

import logging.config
import os
from collections.abc import Mapping
from contextvars import Token

from celery import Celery, signals

from apps.common.logging import context_bind, context_reset

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("groupbuy")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_task_log_tokens: dict[str, Mapping[str, Token]] = {}


@signals.setup_logging.connect
def logging_setup(**kwargs) -> None:
    """Connecting this signal stops Celery from replacing the root handlers with its own format."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


def _refuse_unsafe_start(process: str) -> None:
    """Production: no worker or beat on a database with demo credentials (config/guards.py).

    Celery logs and swallows an Exception raised by a signal receiver, so the refusal is a SystemExit.
    """
    import django
    from django.core.exceptions import ImproperlyConfigured

    from config.guards import refuse_unsafe_start

    django.setup()
    try:
        refuse_unsafe_start(process)
    except ImproperlyConfigured as exc:
        raise SystemExit(str(exc)) from exc


@signals.worker_init.connect
def worker_refuse_unsafe_start(**kwargs) -> None:
    _refuse_unsafe_start("The Celery worker")


@signals.beat_init.connect
def beat_refuse_unsafe_start(**kwargs) -> None:
    _refuse_unsafe_start("Celery beat")


@signals.task_prerun.connect
def task_log_context_bind(task_id: str | None = None, task=None, **kwargs) -> None:
    if task_id:
        _task_log_tokens[task_id] = context_bind(task_id=task_id, task_name=getattr(task, "name", None))


@signals.task_postrun.connect
def task_log_context_reset(task_id: str | None = None, **kwargs) -> None:
    tokens = _task_log_tokens.pop(task_id, None) if task_id else None
    if tokens is not None:
        context_reset(tokens)
