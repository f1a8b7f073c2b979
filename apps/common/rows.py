"""Hot-path reads and writes by an indexed key, in plain SQL built once from the model.

For a one-row lookup or write the ORM spends more CPU compiling the query (ordering, joins, lookups, model
instances) than the database spends answering it. On the lock, settle and product-page paths these run on
every request, so they go through here:

* ``rows_where`` / ``row_where``: instances through ``Model.objects.raw`` (the backend's converters apply);
* ``values_where``: tuples of the named columns, converted as the ORM converts them (aware datetimes,
  Decimals on SQLite); ``values_where_together``: several such lookups, on MariaDB in one round trip, the rows of
  each apart; ``values_of``: a hand-written join, converted;
* ``row_insert``: one INSERT, every value prepared as ``save()`` prepares it, no model instance;
* ``rows_update``: one UPDATE whose SET may add to a column (``F("n") + 1``) and whose WHERE may compare two
  columns (``lock_count__lt=F("target_count")``): the conditional updates that guard the invariants.

Conditions are equality (``IN`` for a tuple) or the comparisons above, ANDed. No signals are sent (the models
written here have no receivers); anything richer stays with the ORM. Tests hold every helper to the ORM's
answer (``apps/common/tests/test_rows.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar, cast

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DateTimeField, F, Field, Model
from django.db.models.expressions import CombinedExpression, Value
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from apps.common.db import retry_on_deadlock

M = TypeVar("M", bound=Model)

# Columns whose database value is already the Python value on every backend (no converter, no preparation).
_PLAIN_TYPES = frozenset(
    {"CharField", "TextField", "IntegerField", "SmallIntegerField", "BigIntegerField", "PositiveIntegerField",
     "PositiveSmallIntegerField", "PositiveBigIntegerField", "AutoField", "BigAutoField"}
)  # fmt: skip
_COMPARISONS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}

# A condition's shape: (field name, operator, IN-arity or 0, the other column's name when comparing columns).
Shape = tuple[tuple[str, str, int, str | None], ...]


def model_field(model: type[Model], name: str) -> Field:
    """``model``'s field ``name`` that has a column (for a hand-written SELECT's ``values_of`` fields)."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field):  # a reverse relation has no column
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field


def quoted_column(field: Field) -> str:
    """``field``'s column, quoted for the backend (for a hand-written SELECT)."""
    return connection.ops.quote_name(cast(str, field.column))


def _is_plain(field: Field) -> bool:
    return getattr(field, "target_field", field).get_internal_type() in _PLAIN_TYPES


# Backends whose ``adapt_datetimefield_value`` sends an aware datetime as the text of its naive time in the
# connection's zone (``prepared`` does that itself for them, without the ORM's per-value checks).
_NAIVE_TEXT_DATETIMES = frozenset({"mysql", "sqlite"})
_PLAIN, _DATETIME, _OTHER = "plain", "datetime", "other"
_kinds: dict[int, tuple[Field, str]] = {}  # by id(field), the field kept so that its id is never reused


def _kind(field: Field) -> str:
    known = _kinds.get(id(field))
    if known is not None and known[0] is field:
        return known[1]
    kind = _PLAIN if _is_plain(field) else _DATETIME if type(field) is DateTimeField else _OTHER
    _kinds[id(field)] = (field, kind)
    return kind


def default_database() -> BaseDatabaseWrapper:
    """The thread's default connection itself: a hot path looks it up once, not once per ``connection.x``."""
    return connections[DEFAULT_DB_ALIAS]


def prepared(field: Field, value: Any, db: BaseDatabaseWrapper | None = None) -> Any:
    """A value as the ORM sends it for ``field`` (datetimes made naive UTC on MySQL, Decimals adapted): for a
    hand-written statement's parameters. ``db``: the default connection, when the caller has it at hand."""
    kind = _kind(field)
    if kind is _PLAIN:
        return value.value if isinstance(value, Enum) else value  # a choices member goes as its plain value
    db = db or default_database()
    if kind is _DATETIME and type(value) is datetime and db.vendor in _NAIVE_TEXT_DATETIMES:
        zone = db.timezone  # None without USE_TZ: the ORM's way below (which refuses an aware value)
        if zone is not None and value.utcoffset() is not None:
            return str(value.astimezone(zone).replace(tzinfo=None))  # what adapt_datetimefield_value answers
    return field.get_db_prep_save(value, db)


def _conditions(
    model: type[Model], equals: dict[str, Any], db: BaseDatabaseWrapper | None = None
) -> tuple[Shape, list[Any]]:
    """The shape of ``equals`` (``name`` or ``name__lt`` ...) and its parameters, prepared for their fields."""
    db = db or default_database()
    pk_name = model._meta.pk.name
    shape: list[tuple[str, str, int, str | None]] = []
    params: list[Any] = []
    for key, value in equals.items():
        name, _, lookup = key.partition("__")
        name = pk_name if name == "pk" else name
        operator = _COMPARISONS[lookup] if lookup else "="
        if isinstance(value, F):
            shape.append((name, operator, 0, cast(Any, value).name))
            continue
        field = model_field(model, name)
        if isinstance(value, tuple):
            shape.append((name, "IN", len(value), None))
            params.extend(prepared(field, item, db) for item in value)
        else:
            shape.append((name, operator, 0, None))
            params.append(prepared(field, value, db))
    return tuple(shape), params


def _where(model: type[Model], shape: Shape) -> str:
    parts = []
    for name, operator, arity, other in shape:
        column = quoted_column(model_field(model, name))
        if other is not None:
            parts.append(f"{column} {operator} {quoted_column(model_field(model, other))}")
        elif operator == "IN":
            parts.append(f"{column} IN ({', '.join(['%s'] * arity)})")
        else:
            parts.append(f"{column} {operator} %s")
    return " AND ".join(parts)


def _column_list(model: type[Model], columns: tuple[str, ...] | None) -> str:
    fields = model._meta.concrete_fields if columns is None else [model_field(model, name) for name in columns]
    return ", ".join(quoted_column(field) for field in fields)


@lru_cache(maxsize=128)
def _select(model: type[Model], columns: tuple[str, ...] | None, shape: Shape, limit: int | None) -> str:
    """SELECT of ``columns`` (field names; None: every concrete field) WHERE ``shape``."""
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"SELECT {_column_list(model, columns)} FROM {table} WHERE {_where(model, shape)}"  # noqa: S608 - model names
    return sql if limit is None else f"{sql} LIMIT {int(limit)}"


@lru_cache(maxsize=256)
def _converters(fields: tuple[Field, ...], ops: Any) -> tuple[tuple[int, Any, tuple], ...]:
    """(position, column, converters) of the fields whose value the backend converts, as the compiler would.
    Keyed by the thread's connection ``ops``: converters are bound to it."""
    found = []
    for position, field in enumerate(fields):
        if _is_plain(field):
            continue
        column = field.get_col(field.model._meta.db_table)
        converters = tuple(ops.get_db_converters(column) + column.get_db_converters(connection))
        if converters:
            found.append((position, column, converters))
    return tuple(found)


@lru_cache(maxsize=128)
def _fields(model: type[Model], columns: tuple[str, ...]) -> tuple[Field, ...]:
    return tuple(model_field(model, name) for name in columns)


def _convert(
    fields: tuple[Field, ...], rows: list[tuple] | tuple[tuple, ...], db: BaseDatabaseWrapper | None = None
) -> list[tuple]:
    db = db or default_database()
    converters = _converters(fields, db.ops)
    if not converters or not rows:
        return [tuple(row) for row in rows]
    converted = []
    for row in rows:
        values = list(row)
        for position, column, functions in converters:
            for function in functions:
                values[position] = function(values[position], column, db)
        converted.append(tuple(values))
    return converted


def rows_where(model: type[M], *, limit: int | None = None, **equals: Any) -> list[M]:
    """Instances of ``model`` whose fields equal ``equals`` (a tuple value means "one of"), unordered."""
    shape, params = _conditions(model, equals)
    return list(model._default_manager.raw(_select(model, None, shape, limit), params))


def row_where(model: type[M], **equals: Any) -> M | None:
    """The one instance matching a unique key (or the first found), else ``None``."""
    rows = rows_where(model, limit=1, **equals)
    return rows[0] if rows else None


def values_where(model: type[Model], columns: tuple[str, ...], *, limit: int | None = None, **equals: Any) -> list:
    """Tuples of ``columns`` of the matching rows, unordered, converted as the ORM would (no model is built)."""
    shape, params = _conditions(model, equals)
    with connection.cursor() as cursor:
        cursor.execute(_select(model, columns, shape, limit), params)
        rows = cursor.fetchall()
    return _convert(_fields(model, columns), rows)


class Read(NamedTuple):
    """One lookup of ``values_where_together``: ``model``'s ``columns`` of the rows whose fields equal ``equals``."""

    model: type[Model]
    columns: tuple[str, ...]
    equals: dict[str, Any]


def values_where_together(*reads: Read) -> list[list[tuple]]:
    """Lookups on different tables, each as ``values_where``; on MariaDB in one round trip (one result set each)."""
    db = default_database()
    statements = []
    for model, columns, equals in reads:
        shape, params = _conditions(model, equals, db)
        statements.append((_select(model, columns, shape, None), params))
    read_together = getattr(db, "read_together", None)
    if read_together is not None:
        results = read_together(statements)
    else:
        results = []
        with db.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                results.append(cursor.fetchall())
    return [_convert(_fields(read.model, read.columns), rows, db) for read, rows in zip(reads, results, strict=True)]


def values_of(sql: str, params: list[Any], fields: tuple[Field, ...]) -> list[tuple]:
    """The rows of a hand-written SELECT (a join the lookups above cannot say), column ``i`` converted as the
    ORM converts ``fields[i]``. Only in a selector on a measured hot path, with a test holding it to the ORM."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return _convert(fields, rows)


class Statement(NamedTuple):
    """One write of ``rows_write_together``: SQL with ``%s`` parameters. ``only_if_previous_matched``: it runs only
    when the statement before it matched a row (a guarded UPDATE, then the INSERT it allows)."""

    sql: str
    params: list[Any]
    only_if_previous_matched: bool = False


@lru_cache(maxsize=32)
def _insert(model: type[Model], names: frozenset[str]) -> tuple[str, tuple[tuple[Field, str], ...]]:
    """The INSERT of every concrete field but an auto primary key, and where each value comes from."""
    quote, meta = connection.ops.quote_name, model._meta
    fields = [field for field in meta.concrete_fields if not (field.primary_key and field.name not in names)]
    unknown = names - {field.name for field in fields}
    if unknown:
        raise TypeError(f"{model.__name__} has no field {sorted(unknown)}")
    sources = tuple(
        (field, "given" if field.name in names else "now" if getattr(field, "auto_now", False)
         or getattr(field, "auto_now_add", False) else "default")
        for field in fields
    )  # fmt: skip
    columns = ", ".join(quoted_column(field) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})", sources  # noqa: S608


def insert_statement(model: type[Model], *, only_if_previous_matched: bool = False, **values: Any) -> Statement:
    """The INSERT of one row of ``model`` (as ``row_insert``), for ``rows_write_together``."""
    sql, sources = _insert(model, frozenset(values))
    db = default_database()
    now = None
    params = []
    for field, source in sources:
        if source == "given":
            value = values[field.name]
        elif source == "now":
            now = now or timezone.now()
            value = now
        else:
            value = field.get_default()
        params.append(prepared(field, value, db))
    return Statement(sql, params, only_if_previous_matched)


def row_insert(model: type[Model], **values: Any) -> int:
    """INSERT one row of ``model`` and answer its primary key.

    ``values`` by field name; a field not named gets what ``save()`` would give it: ``auto_now``/``auto_now_add``
    the current time, any other its default. Unique and check constraints are the database's, as with the ORM.
    """
    sql, params, _ = insert_statement(model, **values)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.lastrowid


def _assignment(name: str, value: Any) -> tuple[tuple[str, str | None], Any]:
    """(name, operator) and the parameter of one SET item: a value, or ``F(name) + n`` / ``F(name) - n``."""
    if not isinstance(value, CombinedExpression):
        return (name, None), value
    lhs, rhs = value.lhs, value.rhs
    if not (isinstance(lhs, F) and cast(Any, lhs).name == name and isinstance(rhs, Value)
            and value.connector in ("+", "-")):  # fmt: skip
        raise TypeError(f"unsupported update of {name}: {value!r}")
    return (name, value.connector), rhs.value


@lru_cache(maxsize=32)
def _update(model: type[Model], assignments: tuple[tuple[str, str | None], ...], shape: Shape) -> str:
    items = []
    for name, operator in assignments:
        column = quoted_column(model_field(model, name))
        items.append(f"{column} = %s" if operator is None else f"{column} = {column} {operator} %s")
    return (
        f"UPDATE {connection.ops.quote_name(model._meta.db_table)} SET {', '.join(items)} WHERE {_where(model, shape)}"  # noqa: S608
    )


def update_statement(
    model: type[Model], *, where: dict[str, Any], only_if_previous_matched: bool = False, **assignments: Any
) -> Statement:
    """The UPDATE of ``rows_update``, for ``rows_write_together``."""
    db = default_database()
    shapes, params = [], []
    for name, value in assignments.items():
        shape, param = _assignment(name, value)
        shapes.append(shape)
        params.append(param if shape[1] is not None else prepared(model_field(model, name), param, db))
    condition, condition_params = _conditions(model, where, db)
    return Statement(_update(model, tuple(shapes), condition), params + condition_params, only_if_previous_matched)


def rows_update(model: type[Model], *, where: dict[str, Any], **assignments: Any) -> int:
    """UPDATE the rows matching ``where`` with ``assignments``; answers the number of rows matched, as
    ``QuerySet.update`` does. ``where`` takes ``name`` / ``name__lt`` ... with a value or ``F("other")``."""
    sql, params, _ = update_statement(model, where=where, **assignments)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


class Query(NamedTuple):
    """A hand-written SELECT (``values_of``): column ``i`` converted as the ORM converts ``fields[i]``."""

    sql: str
    params: list[Any]
    fields: tuple[Field, ...]


class Written(NamedTuple):
    """What ``rows_write_together`` did: each statement's row count, and the rows of its ``read``."""

    counts: list[int]
    rows: list[tuple]


def rows_write_together(
    *statements: Statement, read: Query | None = None, then: Callable[[Written], None] | None = None
) -> Written:
    """``statements`` as one transaction (a savepoint inside the caller's; run again after a deadlock): their row
    counts (matched rows), 0 for one skipped by ``only_if_previous_matched``, and the rows of ``read``, a SELECT run
    after them in the same transaction (it sees their writes). ``then(written)`` runs in the same transaction after
    them and may raise to roll it back.

    On MariaDB the statements and the read go in one round trip (``apps.common.mysql``), with the transaction's
    BEGIN; outside a Django transaction and without ``then``, with its COMMIT too: the whole transaction is one round
    trip. A statement that depends on the previous one is guarded in SQL by that one's ``ROW_COUNT()``. Elsewhere
    they run one by one. An error rolls the transaction back.
    """
    db = default_database()
    if getattr(db, "run_statements", None) is not None and then is None and not db.in_atomic_block:
        return retry_on_deadlock(lambda: _run(statements, read, db), atomic=False)

    def together() -> Written:
        written = _run(statements, read, db)
        if then is not None:
            then(written)
        return written

    return retry_on_deadlock(together)


def rows_write_in_transaction(*statements: Statement, read: Query | None = None) -> Written:
    """As ``rows_write_together``, as part of the caller's transaction (inside ``atomic``, which owns its retry and
    its rollback): no savepoint of its own. On MariaDB the statements and the read are one round trip."""
    db = default_database()
    if not db.in_atomic_block:
        raise TransactionManagementError("rows_write_in_transaction runs inside the caller's atomic block")
    return _run(statements, read, db)


def _run(statements: tuple[Statement, ...], read: Query | None, db: BaseDatabaseWrapper) -> Written:
    run_statements = getattr(db, "run_statements", None)
    batch_read = (read.sql, read.params) if read is not None else None
    if run_statements is not None:
        batch = [(_guarded(statement), statement.params) for statement in statements]
        counts, rows = run_statements(batch, batch_read)
    else:
        counts, rows = _one_by_one(statements, batch_read, db)
    return Written(counts, _convert(read.fields, rows, db) if read is not None else [])


def where_query(model: type[Model], columns: tuple[str, ...], **equals: Any) -> Query:
    """``values_where``'s SELECT, to run after writes (``rows_write_together(..., read=...)``)."""
    shape, params = _conditions(model, equals)
    return Query(_select(model, columns, shape, None), params, _fields(model, columns))


def _guarded(statement: Statement) -> str:
    """A write that runs only if the previous statement matched a row, as one statement (MariaDB)."""
    if not statement.only_if_previous_matched:
        return statement.sql
    if statement.sql.startswith("UPDATE "):
        return f"{statement.sql} AND ROW_COUNT() > 0"
    head, _, values = statement.sql.partition(" VALUES (")
    if not head.startswith("INSERT INTO ") or not values.endswith(")"):
        raise TypeError("only an INSERT ... VALUES or an UPDATE may depend on the previous statement")
    return f"{head} SELECT {values[:-1]} FROM DUAL WHERE ROW_COUNT() > 0"  # noqa: S608 - built from model names


def _one_by_one(
    statements: tuple[Statement, ...], read: tuple[str, list[Any]] | None, db: BaseDatabaseWrapper
) -> tuple[list[int], list[tuple]]:
    counts: list[int] = []
    rows: list[tuple] = []
    with db.cursor() as cursor:
        for sql, params, only_if_previous_matched in statements:
            if only_if_previous_matched and counts and not counts[-1]:
                counts.append(0)
                continue
            cursor.execute(sql, params)
            counts.append(cursor.rowcount)
        if read is not None:
            cursor.execute(*read)
            rows = cursor.fetchall()
    return counts, rows
