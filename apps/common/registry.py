"""A tiny keyed registry: strategies register under a key and are looked up by it."""

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, name: str) -> None:
        self.name = name
        self._items: dict[str, T] = {}

    def register(self, key: str) -> Callable[[type], type]:
        """Class decorator: instantiate the class once and file it under ``key``."""

        def decorator(cls: type) -> type:
            if key in self._items:
                raise ValueError(f"{self.name}: {key!r} registered twice")
            self._items[key] = cls()
            return cls

        return decorator

    def get(self, key: str) -> T | None:
        return self._items.get(key)

    def __getitem__(self, key: str) -> T:
        """The entry under ``key``, for a key that must exist (KeyError otherwise)."""
        return self._items[key]

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)
