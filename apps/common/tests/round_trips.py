"""What query counts pin: statements sent together (``apps.common.rows.rows_write_together``) are one query on
MariaDB, where they go in one round trip, and one each elsewhere."""

from django.db import connection


def written_together(statements: int) -> int:
    """The queries ``statements`` writes of one ``rows_write_together`` cost on the test's database."""
    return 1 if connection.vendor == "mysql" else statements
