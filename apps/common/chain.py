"""Responsibility chain: a flow as an ordered list of small named links, assembled by a factory.

Each link checks or does one thing with the shared context and either lets the chain go on or
ends it early with a result (e.g. an idempotent replay). A link rejects by raising GroupBuyError.

    lock_chain = Chain("lock", [IdempotentReplay(), TeamNotFull(), ...])
    result = lock_chain.run(command, ctx)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

Req = TypeVar("Req")
Ctx = TypeVar("Ctx")


@dataclass(frozen=True)
class Stop:
    """Returned by a link to end the chain early with ``result``."""

    result: Any


class Link(Generic[Req, Ctx]):
    name: str = ""

    def handle(self, request: Req, ctx: Ctx) -> Stop | None:
        """Check or act; return Stop(result) to end the chain, None to pass on, or raise to reject."""
        raise NotImplementedError


class Chain(Generic[Req, Ctx]):
    def __init__(self, name: str, links: Iterable[Link[Req, Ctx]]) -> None:
        self.name = name
        self.links = list(links)
        names = [link.name for link in self.links]
        if len(set(names)) != len(names) or not all(names):
            raise ValueError(f"chain {name!r}: links need unique, non-empty names: {names}")

    def run(self, request: Req, ctx: Ctx) -> Any:
        """Run every link in order. Returns the first Stop's result, else None."""
        for link in self.links:
            outcome = link.handle(request, ctx)
            if isinstance(outcome, Stop):
                return outcome.result
        return None

    @property
    def link_names(self) -> list[str]:
        return [link.name for link in self.links]
