"""Database failures worth a retry, and the one loop that retries a transaction after a lock conflict.

``is_transient_db_error`` is the one list of MariaDB/MySQL codes a retry can get past: the API answers
them 0007 "retry" (``apps.common.api``), and ``retry_on_deadlock`` runs a transaction again in place
after the lock-conflict subset of them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection, transaction

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The moment: lock wait timeout, deadlock. The server rolled the transaction back; the connection is fine.
LOCK_CONFLICT_CODES = frozenset({1205, 1213})
# The connection: client 2002/2003/2006/2013/2055, server 1927 "connection killed", 1053 shutdown, 1040 too
# many connections. Other OperationalErrors (1054 unknown column, ...) are bugs, not outages.
CONNECTION_CODES = frozenset({1040, 1053, 1927, 2002, 2003, 2006, 2013, 2055})


def is_transient_db_error(exc: BaseException, *, lock_conflict: bool = False) -> bool:
    """A database failure worth a retry (the connection or a lock), as opposed to a bug.

    ``lock_conflict=True`` narrows it to a deadlock or lock wait timeout: the only failures after which the
    same process may run the transaction again at once. After a lost connection a COMMIT's outcome is
    unknown and the connection is gone; SQLite's "database is locked" has already waited its busy timeout.
    """
    if isinstance(exc, InterfaceError):
        return not lock_conflict  # the connection is closed or unusable
    if not isinstance(exc, OperationalError):
        return False
    code = exc.args[0] if exc.args else None
    if code in LOCK_CONFLICT_CODES:
        return True
    if lock_conflict:
        return False
    return code in CONNECTION_CODES or "database is locked" in str(exc)


def retry_on_deadlock(fn: Callable[[], T], *, attempts: int = 3, atomic: bool = True) -> T:
    """``fn()`` in its own ``transaction.atomic``, run again (up to ``attempts`` in all) after a lock conflict.

    Inside an outer transaction it runs once: a deadlock rolled the whole outer transaction back, so only
    its owner can run it again. ``atomic=False``: ``fn`` runs a whole transaction itself (``rows_write_together``).
    """
    tries = 1 if connection.in_atomic_block else attempts
    for attempt in range(1, tries + 1):
        try:
            with transaction.atomic() if atomic else contextlib.nullcontext():
                return fn()
        except OperationalError as exc:
            if attempt < tries and is_transient_db_error(exc, lock_conflict=True):
                logger.info("transaction retried after %s", exc.args)
                continue
            raise
    raise AssertionError("unreachable")
