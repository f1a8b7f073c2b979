"""Hot-path reads by an indexed key, in plain SQL built once from the model.

For a one-row lookup the ORM spends more CPU compiling the query (ordering, joins, lookups) than the
database spends answering it. On the lock and product-page paths these lookups run on every request,
so they go through here: equality (or ``IN`` for a tuple) on the named fields, ANDed, as
``Model.objects.raw`` so the backend's converters still apply (aware datetimes, Decimals). Anything
richer stays with the ORM.
"""

from functools import lru_cache
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)


@lru_cache(maxsize=64)
def _select(model: type[Model], shape: tuple[tuple[str, int], ...], limit: int | None) -> str:
    quote = connection.ops.quote_name
    meta = model._meta
    columns = ", ".join(quote(field.column) for field in meta.concrete_fields)
    conditions = []
    for name, arity in shape:
        column = quote(meta.get_field(name).column)
        conditions.append(f"{column} = %s" if arity == 0 else f"{column} IN ({', '.join(['%s'] * arity)})")
    sql = f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {' AND '.join(conditions)}"  # noqa: S608 - model names
    return sql if limit is None else f"{sql} LIMIT {int(limit)}"


def rows_where(model: type[M], *, limit: int | None = None, **equals: Any) -> list[M]:
    """Instances of ``model`` whose fields equal ``equals`` (a tuple value means "one of"), unordered."""
    shape = tuple((name, len(value) if isinstance(value, tuple) else 0) for name, value in equals.items())
    params: list[Any] = []
    for value in equals.values():
        params.extend(value if isinstance(value, tuple) else (value,))
    return list(model.objects.raw(_select(model, shape, limit), params))


def row_where(model: type[M], **equals: Any) -> M | None:
    """The one instance matching a unique key (or the first found), else ``None``."""
    rows = rows_where(model, limit=1, **equals)
    return rows[0] if rows else None
