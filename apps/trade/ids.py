"""Team ids (8 digits) and order ids (12 digits): random, so they reveal no volumes.

Uniqueness is the database's unique key; callers retry a collision up to ``ID_ATTEMPTS`` times.
With 9·10^7 team ids a collision needs millions of teams before it is even likely per insert,
and a retry costs the lock's transaction (``apps.trade.lock._write_drawing_ids``).
"""

import secrets

ID_ATTEMPTS = 5


def new_team_id() -> str:
    return str(10_000_000 + secrets.randbelow(90_000_000))


def new_order_id() -> str:
    return str(100_000_000_000 + secrets.randbelow(900_000_000_000))
