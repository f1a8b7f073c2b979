"""Hot-path reads by an indexed key, in plain SQL built once from the model.

For a one-row lookup the ORM spends more CPU compiling the query (ordering, joins, lookups) than the
database spends answering it. On the lock and product-page paths these lookups run on every request,
so they go through here: equality (or ``IN`` for a tuple) on the named fields, ANDed. ``rows_where``
answers instances through ``Model.objects.raw``, so the backend's converters still apply (aware
datetimes, Decimals); ``values_where`` answers plain tuples of text and integer columns, which need no
converter, for the reads that want two columns rather than a model. Anything richer stays with the ORM.
"""

from functools import lru_cache
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Field, ForeignObjectRel, Model

M = TypeVar("M", bound=Model)


# Columns whose database value is already the Python value on every backend (no converter).
_PLAIN_TYPES = frozenset(
    {"CharField", "TextField", "IntegerField", "SmallIntegerField", "BigIntegerField", "PositiveIntegerField",
     "PositiveSmallIntegerField", "AutoField", "BigAutoField"}
)  # fmt: skip


def _column(model: type[Model], field: "Field[Any, Any] | ForeignObjectRel") -> str:
    """The database column of a concrete field (a reverse relation has none)."""
    if not isinstance(field, Field) or not field.column:
        raise TypeError(f"{model.__name__}.{field.name} is not a column")
    return field.column


@lru_cache(maxsize=64)
def _select(
    model: type[Model], columns: tuple[str, ...] | None, shape: tuple[tuple[str, int], ...], limit: int | None
) -> str:
    """SELECT of ``columns`` (field names; None: every concrete field) WHERE ``shape`` (name, IN-arity or 0)."""
    quote = connection.ops.quote_name
    meta = model._meta
    if columns is None:
        selected = [_column(model, field) for field in meta.concrete_fields]
    else:
        fields = [meta.get_field(name) for name in columns]
        for field in fields:
            if getattr(field, "target_field", field).get_internal_type() not in _PLAIN_TYPES:
                raise TypeError(f"{model.__name__}.{field.name} needs a converter: use rows_where")
        selected = [_column(model, field) for field in fields]
    conditions = []
    for name, arity in shape:
        column = quote(_column(model, meta.get_field(name)))
        conditions.append(f"{column} = %s" if arity == 0 else f"{column} IN ({', '.join(['%s'] * arity)})")
    select = ", ".join(quote(column) for column in selected)
    sql = f"SELECT {select} FROM {quote(meta.db_table)} WHERE {' AND '.join(conditions)}"  # noqa: S608 - model names
    return sql if limit is None else f"{sql} LIMIT {int(limit)}"


def _shape_and_params(equals: dict[str, Any]) -> tuple[tuple[tuple[str, int], ...], list[Any]]:
    shape = tuple((name, len(value) if isinstance(value, tuple) else 0) for name, value in equals.items())
    params: list[Any] = []
    for value in equals.values():
        params.extend(value if isinstance(value, tuple) else (value,))
    return shape, params


def rows_where(model: type[M], *, limit: int | None = None, **equals: Any) -> list[M]:
    """Instances of ``model`` whose fields equal ``equals`` (a tuple value means "one of"), unordered."""
    shape, params = _shape_and_params(equals)
    return list(model._default_manager.raw(_select(model, None, shape, limit), params))


def row_where(model: type[M], **equals: Any) -> M | None:
    """The one instance matching a unique key (or the first found), else ``None``."""
    rows = rows_where(model, limit=1, **equals)
    return rows[0] if rows else None


def values_where(model: type[Model], columns: tuple[str, ...], *, limit: int | None = None, **equals: Any) -> list:
    """Tuples of the text or integer ``columns`` of the matching rows, unordered (no model is built)."""
    shape, params = _shape_and_params(equals)
    with connection.cursor() as cursor:
        cursor.execute(_select(model, columns, shape, limit), params)
        return list(cursor.fetchall())
