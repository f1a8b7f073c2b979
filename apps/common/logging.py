"""Structured logs: one pipeline (structlog over stdlib logging) for the web, Celery and the MQ consumer.

Every record - ours (``logging.getLogger(__name__)``), Django's, Celery's, or a ``structlog.get_logger()`` -
goes to the one console handler, whose formatter is ``StructuredFormatter``: timestamp (ISO, UTC), level,
logger, event, the exception rendered, ``extra={...}`` keys, and the context bound for the current request,
task or message. ``LOG_FORMAT`` picks JSON lines (``json``) or the human console renderer (``console``).

Context is kept in structlog's context variables:

- ``RequestIdMiddleware`` (and the API's lane) keeps the request in ``current_request_var``, its id on it
  (``request_id_attach``): ``add_request_context`` adds ``request_id`` and, once authentication has resolved the
  user, ``user_id``/``username`` (it never triggers the lookup); ``current_request_id()`` is what the API's crash
  envelope reports.
- ``config/celery_app.py`` binds ``task_id``/``task_name`` around every task (task_prerun/task_postrun).
- ``bound_context(**values)`` binds anything else for a block or a function (the consumer's message uuid
  and routing key, a service's ``team_id``/``order_id``); stdlib calls can also pass ``extra={...}``.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

import structlog
from django.http import HttpRequest
from django.utils.functional import empty
from structlog.typing import EventDict, Processor, WrappedLogger

LOG_FORMATS = ("json", "console")

current_request_var: ContextVar[HttpRequest | None] = ContextVar("current_request", default=None)


def current_request_id() -> str:
    """The id of the request being served ("-" outside one)."""
    request = current_request_var.get()
    return getattr(request, "request_id", None) or "-"


# Typed writers of what ``add_request_context`` reads: Django's HttpRequest declares neither attribute.
def request_id_attach(request: HttpRequest, request_id: str) -> None:
    """Set ``request.request_id``, the id ``request_scope`` gave the request."""
    vars(request)["request_id"] = request_id


def request_caller_attach(request: HttpRequest, caller: object) -> None:
    """Set ``request.user`` to a verified caller that is no Django user (a signed channel's
    ``ChannelPrincipal``) where no authentication middleware ran: the records' ``user_id``."""
    vars(request)["user"] = caller


@contextmanager
def bound_context(**values: Any) -> Iterator[None]:
    """Add ``values`` to every log record inside the block (or decorated function), then restore.

    ``with bound_context(message_uuid=uuid, routing_key=key): ...`` or ``with bound_context(team_id=...)``.
    Nested blocks restore the outer values on exit, so a task run inside a request keeps the request id.
    """
    tokens = structlog.contextvars.bind_contextvars(**values)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def context_bind(**values: Any) -> Mapping[str, Token]:
    """Bind without a block (signal pairs such as Celery's prerun/postrun); pass the result to ``context_reset``."""
    return structlog.contextvars.bind_contextvars(**values)


def context_reset(tokens: Mapping[str, Token]) -> None:
    structlog.contextvars.reset_contextvars(**tokens)


def add_request_context(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Add the request id and user of the record's request.

    The request is the one ``RequestIdMiddleware`` is serving, or the one Django passes as
    ``extra={"request": ...}`` (``django.request`` logs 4xx/5xx after the middleware returned); that object is
    replaced by ``"GET /path"``. The user is added once authentication resolved it: never query from logging.
    """
    request = event_dict.get("request")
    if isinstance(request, HttpRequest):
        event_dict["request"] = f"{request.method} {request.get_full_path()}"
    else:
        request = current_request_var.get()
    if request is None:
        return event_dict
    request_id = getattr(request, "request_id", None)  # set by request_scope (request_id_attach)
    if request_id and "request_id" not in event_dict:
        event_dict["request_id"] = request_id
    user = request.__dict__.get("user")
    if user is None or "user_id" in event_dict or getattr(user, "_wrapped", None) is empty:  # lazy, unresolved
        return event_dict
    if getattr(user, "is_authenticated", False):
        event_dict["user_id"] = user.pk
        # Signed channels authenticate as a ChannelPrincipal, which has no username.
        get_username = getattr(user, "get_username", None)
        event_dict["username"] = get_username() if get_username else str(user)
    return event_dict


def shared_processors() -> list[Processor]:
    """What every record gets, whether it came from stdlib logging or from structlog."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        add_request_context,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def _renderer_processors(log_format: str) -> list[Processor]:
    if log_format == "json":
        return [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    return [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]  # renders exceptions itself


def _log_format_setting() -> str:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    log_format = getattr(settings, "LOG_FORMAT", "") or ("console" if settings.DEBUG else "json")
    if log_format not in LOG_FORMATS:
        raise ImproperlyConfigured(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}.")
    return log_format


class StructuredFormatter(structlog.stdlib.ProcessorFormatter):
    """The console handler's formatter (``LOGGING``). ``log_format`` defaults to ``settings.LOG_FORMAT``."""

    def __init__(self, log_format: str | None = None) -> None:
        log_format = log_format or _log_format_setting()
        structlog_configure()
        super().__init__(
            foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared_processors()],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_renderer_processors(log_format)],
        )
        self.log_format = log_format


def structlog_configure() -> None:
    """Route ``structlog.get_logger()`` through stdlib logging, so it meets the same handler and formatter."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


class ThrottledWarning:
    """``logger.warning`` at most once every ``seconds`` per message.

    For failures that every request meets during an outage (Redis down, a store unreachable): one line every
    few seconds says the same as thousands, and the metrics beside it count them all.
    """

    def __init__(self, logger: logging.Logger, seconds: float) -> None:
        self.logger = logger
        self.seconds = seconds
        self._last: dict[str, float] = {}  # message -> time.monotonic() of its last line

    def __call__(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(message, -math.inf) >= self.seconds:
            self._last[message] = now
            self.logger.warning(message, *args)

    def reset(self) -> None:
        """Forget when each message was last said (tests)."""
        self._last.clear()
