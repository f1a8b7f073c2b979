"""Django's MySQL backend, with the server session kept in autocommit and transactions begun explicitly.

Stock Django turns autocommit off and on around every transaction (``SET autocommit=0``, ``COMMIT``,
``SET autocommit=1``: three round trips for an ``atomic`` block). Here Django's "autocommit off" is a ``BEGIN``
sent just before the next statement (the server would start its implicit transaction there too), ``COMMIT``
and ``ROLLBACK`` are sent only when a transaction was begun, and turning autocommit back on costs nothing after
they ended: an ``atomic`` block with one INSERT is BEGIN, INSERT, COMMIT. ``ENGINE = "apps.common.mysql"``
(config/env.py); docs/decisions/020-transactions-without-set-autocommit.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import MySQLdb
from django.db import IntegrityError
from django.db.backends.mysql import base as mysql
from django.db.backends.utils import debug_transaction
from MySQLdb.constants import CLIENT

# InnoDB rolled the whole transaction back (the server session is then back in autocommit).
TRANSACTION_ROLLED_BACK = frozenset({1213})  # deadlock
_BEGIN = "BEGIN; "


class CursorWrapper(mysql.CursorWrapper):
    """Begins the pending transaction before a statement: every statement after a ``commit()`` or
    ``rollback()`` in manual mode is in a new transaction, as with the session's autocommit off."""

    def __init__(self, cursor: Any, db: DatabaseWrapper) -> None:
        super().__init__(cursor)
        self.db = db

    def execute(self, query: str, args: Any = None) -> Any:
        if self.db.begin_pending:
            # BEGIN rides with the statement, one round trip for both (multi-statements: get_connection_params).
            self.db.begin_pending = False
            self.db.in_server_transaction = True
            return self._in_transaction(self._after_begin, query, args)
        return self._in_transaction(super().execute, query, args)

    def _after_begin(self, query: str, args: Any) -> Any:
        super().execute(_BEGIN + query, args)  # the result in hand is the BEGIN's
        return self.next_result()  # the statement's: its rows, rowcount, lastrowid, or its error

    def next_result(self) -> int:
        """Step to the next statement's result of a multi-statement query: its row count, or its error (as
        ``execute`` raises it)."""
        try:
            self.cursor.nextset()
        except MySQLdb.OperationalError as exc:
            if exc.args and exc.args[0] in self.codes_for_integrityerror:
                raise IntegrityError(*tuple(exc.args)) from exc
            raise
        return self.cursor.rowcount

    def executemany(self, query: str, args: Any) -> Any:
        return self._in_transaction(super().executemany, query, args)

    def _in_transaction(self, run: Callable[[str, Any], Any], query: str, args: Any) -> Any:
        if self.db.begin_pending:
            self.db.begin_transaction()
        try:
            return run(query, args)
        except MySQLdb.OperationalError as exc:
            if exc.args and exc.args[0] in TRANSACTION_ROLLED_BACK:
                self.db.transaction_ended_by_server()
            raise

    def callproc(self, procname: str, args: Any = ()) -> Any:
        if self.db.begin_pending:
            self.db.begin_transaction()
        return self.cursor.callproc(procname, args)


class DatabaseWrapper(mysql.DatabaseWrapper):
    # Django's autocommit is off and no BEGIN was sent since: the next statement sends it.
    begin_pending = False
    # A BEGIN was sent (or attempted) and no COMMIT/ROLLBACK since: the server may have a transaction open.
    in_server_transaction = False

    def get_connection_params(self) -> dict:
        params = super().get_connection_params()
        params["client_flag"] = params.get("client_flag", 0) | CLIENT.MULTI_STATEMENTS
        return params

    def get_new_connection(self, conn_params: dict) -> Any:
        self.begin_pending = self.in_server_transaction = False
        # mysqlclient connects with autocommit off (PEP 249); ask for it on instead. It reads the session's
        # state from the server's last reply and sends SET autocommit=1 only when the session is not already
        # in autocommit: a new connection costs no SET autocommit round trip, and the session really is on.
        return super().get_new_connection({**conn_params, "autocommit": True})

    def create_cursor(self, name: str | None = None) -> CursorWrapper:
        return CursorWrapper(self.connection.cursor(), self)

    def read_together(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[tuple]]:
        """``statements`` (SELECTs with ``%s`` parameters) in one round trip; the rows of each."""
        return [rows for _, rows in self._together(statements, own_transaction=False)]

    def run_statements(
        self, statements: Sequence[tuple[str, Sequence[Any]]], read: tuple[str, Sequence[Any]] | None = None
    ) -> tuple[list[int], list[tuple]]:
        """``statements`` (SQL with ``%s`` parameters), then the SELECT ``read``, in one round trip; the statements'
        row counts (rows matched, as ``rowcount``) and the read's rows. Outside a Django transaction they are one
        transaction of their own, ``BEGIN; ...; COMMIT``; inside one they join it (its pending ``BEGIN`` rides
        along)."""
        every = [*statements, *([read] if read is not None else [])]
        results = self._together(every, own_transaction=not self.in_atomic_block)
        return [count for count, _ in results[: len(statements)]], results[-1][1] if read is not None else []

    def _together(
        self, statements: Sequence[tuple[str, Sequence[Any]]], *, own_transaction: bool
    ) -> list[tuple[int, list[tuple]]]:
        """``statements`` as one multi-statement query: each one's row count (rows matched, or read) and rows.
        ``own_transaction``: wrapped in ``BEGIN; ...; COMMIT``. The server stops at a failing statement: the error is
        raised as ``execute`` raises it, and a transaction of their own is rolled back."""
        own = own_transaction
        sql = " ".join([*(["BEGIN;"] if own else []), *(f"{statement};" for statement, _ in statements)])
        sql = f"{sql} COMMIT" if own else sql.removesuffix(";")
        params = [param for _, statement_params in statements for param in statement_params]
        results: list[tuple[int, list[tuple]]] = []
        with self.cursor() as cursor:
            try:
                first = cursor.execute(sql, params)  # with its own BEGIN: the BEGIN's result
                if not own and statements:
                    results.append((first, list(cursor.fetchall())))
                while len(results) < len(statements):
                    with self.wrap_database_errors:
                        count = cursor.cursor.next_result()
                    results.append((count, list(cursor.fetchall())))
                if own:
                    with self.wrap_database_errors:
                        cursor.cursor.next_result()  # the COMMIT's
            except BaseException:
                if own:
                    with contextlib.suppress(Exception):  # a lost connection: the server ends it itself
                        self.connection.rollback()
                raise
        return results

    def begin_transaction(self) -> None:
        self.begin_pending = False
        # Set first: if the BEGIN fails (a lost connection), the ROLLBACK that follows is still attempted and
        # fails as it would on the stock backend, so Django's error handling sees the same errors.
        self.in_server_transaction = True
        self.connection.begin()

    def transaction_ended_by_server(self) -> None:
        """The server ended the transaction itself (a deadlock rolled it back): begin a new one before the next
        statement, as the server does when the session's autocommit is off."""
        self.in_server_transaction = False
        self.begin_pending = not self.autocommit

    def _set_autocommit(self, autocommit: bool) -> None:
        if not autocommit:
            # Lazily: no round trip here. Off while already off keeps the open transaction.
            self.begin_pending = not self.in_server_transaction
            return
        self.begin_pending = False
        if self.in_server_transaction:
            # MySQL's own rule for SET autocommit=1: it commits the open transaction.
            with self.wrap_database_errors:
                self.connection.commit()
            self.in_server_transaction = False

    def _commit(self) -> None:
        self._end_transaction("COMMIT")

    def _rollback(self) -> None:
        self._end_transaction("ROLLBACK")

    def _end_transaction(self, statement: str) -> None:
        if self.connection is None:
            return
        # Logged as the stock backend logs it (query counts stay the same); sent only when a BEGIN was.
        with debug_transaction(self, statement):
            if self.in_server_transaction:
                with self.wrap_database_errors:
                    (self.connection.commit if statement == "COMMIT" else self.connection.rollback)()
                self.in_server_transaction = False
        self.begin_pending = not self.autocommit
