"""What query counts pin: statements sent together (``apps.common.rows``: ``rows_write_together``,
``values_where_together``) are one query on MariaDB, where they go in one round trip, and one each elsewhere."""

from django.db import connection


def sent_together(statements: int) -> int:
    """The queries ``statements`` statements sent together cost on the test's database."""
    return 1 if connection.vendor == "mysql" else statements
