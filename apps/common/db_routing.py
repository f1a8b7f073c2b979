"""Reads that tolerate lag go to the MariaDB replica; everything else stays on the primary.

With ``DATABASE_REPLICA_URL`` set, ``DATABASES["replica"]`` exists and ``ReplicaRouter`` is installed
(config/settings/base.py). A read goes to the replica only when all of these hold:

* it runs inside ``replica_reads()``: an explicit, lag-tolerant scope (the product list and goods page,
  admin changelists through ``ReplicaChangelistMixin``). A read-only page opts in with one line: ``@replica_reads()``
  on its view (it renders a TemplateResponse inside the scope), or ``with replica_reads():`` around the selector
  call (the analytics page: around the figures it computes and caches);
* no ``primary_reads()`` scope is nested inside it (a shopper's own orders and teams on the goods page);
* the model is not one whose rows a request must read right after writing them (``PRIMARY_ONLY_APPS``:
  sessions, users, tokens, permissions, so login never sees a stale session; ``PRIMARY_ONLY_MODELS``: the inbox);
* the primary connection is not inside a transaction (a service's ``atomic`` block reads its own writes);
* the replica is healthy: reachable, replicating, at most ``DATABASE_REPLICA_MAX_LAG_SECONDS`` behind
  (checked at most every ``DATABASE_REPLICA_CHECK_SECONDS`` per process; ``replica_healthy``). A decorated scope
  whose read fails on the replica in between marks it unhealthy and runs once more, on the primary.

Every write goes to the primary, and so does every read outside a scope, whatever database the instance
came from (the router answers every question; Django's fallback to ``instance._state.db`` never applies).
No replica configured (the embedded default): no router is installed and nothing changes.
The design and its limits: docs/decisions/017-a-mariadb-replica-for-lag-tolerant-reads.md.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.template.response import SimpleTemplateResponse

logger = logging.getLogger(__name__)

REPLICA_DB_ALIAS = "replica"
# Rows a request reads right after writing them, whatever the page: the session and the user behind it
# (login, logout, the admin's permission checks), API tokens, content types and the admin log.
PRIMARY_ONLY_APPS = frozenset({"sessions", "auth", "accounts", "authtoken", "contenttypes", "admin"})
# Single models of that kind in apps whose other rows tolerate lag ("app_label.modelname"): the shopper's inbox,
# whose bell is counted on every page (issue 17's reminders) and must drop as soon as a message is read.
PRIMARY_ONLY_MODELS = frozenset({"notifications.inboxmessage"})

# True inside replica_reads(), False inside primary_reads(), None outside both.
_reads: ContextVar[bool | None] = ContextVar("gbm_replica_reads", default=None)

F = TypeVar("F", bound=Callable[..., Any])


class _ReadScope:
    """``replica_reads()`` / ``primary_reads()``: a context manager and a decorator.

    As a decorator of a view it also renders a lazy ``TemplateResponse`` inside the scope: a changelist's
    rows are read while its template renders, after the view returned. The wrapped function's result is
    otherwise untouched: a lazy queryset it returns is read later, outside the scope (on the primary).
    """

    def __init__(self, replica: bool) -> None:
        self.replica = replica

    def __enter__(self) -> None:
        self._token = _reads.set(self.replica)

    def __exit__(self, *exc_info: object) -> None:
        _reads.reset(self._token)

    def __call__(self, func: F) -> F:
        """The decorated function runs inside the scope. Without a replica (decided once, at decoration) there is
        nothing to route: the function is returned as it is, so the embedded default pays nothing for it."""
        if not replica_configured():
            return func
        replica = self.replica

        def run(*args: Any, **kwargs: Any) -> Any:
            token = _reads.set(replica)
            try:
                result = func(*args, **kwargs)
                if isinstance(result, SimpleTemplateResponse) and result.template_name and not result.is_rendered:
                    result.render()  # a template response (not DRF's Response, whose data is already read)
                return result
            finally:
                _reads.reset(token)

        if not replica:
            return cast(F, functools.wraps(func)(run))

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _replica_errors_forget()
            try:
                return run(*args, **kwargs)
            except DatabaseError as exc:
                if not _replica_failed():
                    raise
                _replica_bypass(reason=f"failed during a read: {exc}")
            return run(*args, **kwargs)  # once more, on the primary (the scope is read-only: nothing runs twice)

        return cast(F, wrapper)


def replica_reads() -> _ReadScope:
    """Reads inside may come from the replica (seconds behind at most): for pages that show others' data."""
    return _ReadScope(replica=True)


def primary_reads() -> _ReadScope:
    """Reads inside come from the primary, even within ``replica_reads()``: a user's own, just-written rows.

    The write flows carry it as a decorator (``order_lock``, ``order_settle``, ``order_refund``, notify delivery),
    so their reads before their transaction begins never see a replica's past, whoever calls them.
    """
    return _ReadScope(replica=False)


def replica_configured() -> bool:
    return REPLICA_DB_ALIAS in settings.DATABASES


# --- Health: reachable, replicating, within the lag bound -----------------------------------------------

_health_lock = threading.Lock()
_health: dict[str, Any] = {"checked_at": None, "ok": False}


def replica_health_reset() -> None:
    """Forget the last check (tests; after an operator repaired the replica the next check sees it anyway)."""
    with _health_lock:
        _health.update(checked_at=None, ok=False)


def _mirrors_primary() -> bool:
    """The alias points at the primary's own database (a test mirror, a one-server setup): never behind."""
    replica = connections[REPLICA_DB_ALIAS].settings_dict
    primary = connections[DEFAULT_DB_ALIAS].settings_dict
    return all(replica.get(key) == primary.get(key) for key in ("ENGINE", "HOST", "PORT", "NAME"))


def replica_lag_seconds() -> int | None:
    """Seconds the replica is behind, from its own ``SHOW SLAVE STATUS``; None when it is not replicating.

    Raises DatabaseError when the replica cannot be reached or asked (the reader needs SLAVE MONITOR).
    """
    if _mirrors_primary():
        return 0
    with connections[REPLICA_DB_ALIAS].cursor() as cursor:
        cursor.execute("SHOW SLAVE STATUS")
        row = cursor.fetchone()
        columns = [column[0] for column in cursor.description or ()]
    if row is None:
        return None  # a server that follows no primary: its data is as old as it is
    status = dict(zip(columns, row, strict=False))
    if status.get("Slave_IO_Running") != "Yes" or status.get("Slave_SQL_Running") != "Yes":
        return None
    lag = status.get("Seconds_Behind_Master")
    return None if lag is None else int(lag)


def replica_healthy() -> bool:
    """Whether lag-tolerant reads may use the replica now; asks the replica at most every few seconds."""
    now = time.monotonic()
    checked_at = _health["checked_at"]
    if checked_at is not None and now - checked_at < settings.DATABASE_REPLICA_CHECK_SECONDS:
        return bool(_health["ok"])
    with _health_lock:
        if _health["checked_at"] is not None and now - _health["checked_at"] < settings.DATABASE_REPLICA_CHECK_SECONDS:
            return bool(_health["ok"])
        try:
            lag = replica_lag_seconds()
            reason = "not replicating" if lag is None else f"{lag} s behind"
            ok = lag is not None and lag <= settings.DATABASE_REPLICA_MAX_LAG_SECONDS
        except DatabaseError as exc:
            connections[REPLICA_DB_ALIAS].close()
            ok, reason = False, f"unreachable: {exc}"
        if ok != _health["ok"] or _health["checked_at"] is None:
            log = logger.info if ok else logger.warning
            log("replica %s: %s", "in use" if ok else "bypassed, reads go to the primary", reason)
        _health.update(checked_at=time.monotonic(), ok=ok)
        return ok


def _replica_errors_forget() -> None:
    """Start the scope with the replica's error flag down: an earlier error is checked as Django checks it between
    requests (a usable connection is kept and its flag cleared, else closed), and a closed connection has none."""
    connection = connections[REPLICA_DB_ALIAS]
    if connection.errors_occurred:
        connection.close_if_unusable_or_obsolete()
        if connection.connection is None:
            connection.errors_occurred = False


def _replica_failed() -> bool:
    """Did the replica's connection raise (a refused connect, a lost server) in this scope? Django flags it
    (``errors_occurred``) for any error but a DataError or IntegrityError, which a read of the primary would raise
    as well."""
    return bool(connections[REPLICA_DB_ALIAS].errors_occurred)


def _replica_bypass(*, reason: str) -> None:
    """Mark the replica unhealthy until the next check, and close its connection: a replica that dies between two
    checks costs the request that found out one more read on the primary, not an error page."""
    connections[REPLICA_DB_ALIAS].close()
    with _health_lock:
        if _health["ok"]:
            logger.warning("replica bypassed, reads go to the primary: %s", reason)
        _health.update(checked_at=time.monotonic(), ok=False)


def read_alias(model: type | None = None) -> str:
    """The alias a read of ``model`` goes to right now (the router's answer; see the module docstring)."""
    if not _reads.get() or not settings.DATABASE_REPLICA_READS or not replica_configured():
        return DEFAULT_DB_ALIAS
    if model is not None:
        meta = model._meta  # type: ignore[attr-defined]
        if meta.app_label in PRIMARY_ONLY_APPS or meta.label_lower in PRIMARY_ONLY_MODELS:
            return DEFAULT_DB_ALIAS
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS
    return REPLICA_DB_ALIAS if replica_healthy() else DEFAULT_DB_ALIAS


class ReplicaRouter:
    """``DATABASE_ROUTERS`` entry: reads by ``read_alias``, writes and migrations on the primary only."""

    def db_for_read(self, model: type, **hints: Any) -> str:
        return read_alias(model)

    def db_for_write(self, model: type, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # one data set on two servers

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS
