"""Redis holds only state derived from the database (tag bitmaps, and later team stock).

Each app registers a rebuilder here; ``manage.py rebuild_redis`` runs them all, e.g. after a Redis
restart, and the embedded server runs them at start because its in-process Redis starts empty.
"""

from collections.abc import Callable

_rebuilders: dict[str, Callable[[], int]] = {}


def register_rebuilder(name: str, rebuild: Callable[[], int]) -> None:
    _rebuilders[name] = rebuild


def rebuild_redis_state() -> dict[str, int]:
    return {name: rebuild() for name, rebuild in _rebuilders.items()}
