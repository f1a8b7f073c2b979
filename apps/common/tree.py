"""Rule tree: a flow as small named nodes, each acting on a shared context then routing onward.

A node may declare ``loaders``: independent reads run in parallel on a bounded thread pool
before the node acts (the reference's "multi-thread strategy router"). A loader wrapped in ``Loader``
with a ``peek`` is first asked for an answer from process memory (``apps.common.cache.local_peek``):
warm, no thread is involved at all; only the reads that need I/O go to the pool. The tree walks from its
root until a node routes nowhere; that node's return value is the result.

    class Switch(RuleNode):
        name = "switch"
        def apply(self, request, ctx): ...          # act, or raise GroupBuyError
        def route(self, request, ctx): return "marketing"
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import close_old_connections, connection

from apps.common.cache import NOT_LOCAL

logger = logging.getLogger(__name__)

Req = TypeVar("Req")
Ctx = TypeVar("Ctx")

_pools: dict[int, ThreadPoolExecutor] = {}


def _forget_pools_in_child() -> None:
    # A forked child (gunicorn/celery prefork, multiprocessing) inherits the pool objects but not their
    # threads: work submitted to them would never run. Each process builds its own.
    _pools.clear()


os.register_at_fork(after_in_child=_forget_pools_in_child)


def _pool(size: int) -> ThreadPoolExecutor:
    pool = _pools.get(size)
    if pool is None:
        pool = _pools[size] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="rule-loader")
    return pool


def _in_worker(loader: Callable[[], Any]) -> Any:
    """Run one loader in a pool thread; release its DB connection as a request would."""
    close_old_connections()
    try:
        return loader()
    finally:
        close_old_connections()


@dataclass(frozen=True)
class Loader:
    """A read that may already be in process memory: ``peek`` answers from it or returns ``NOT_LOCAL``."""

    fetch: Callable[[], Any]
    peek: Callable[[], Any]

    def __call__(self) -> Any:
        return self.fetch()


def parallel_load(loaders: Mapping[str, Callable[[], Any]], *, threads: int, timeout: float) -> dict[str, Any]:
    """Run independent reads at once and return their results by name.

    ``Loader``s whose ``peek`` answers from memory are not run. Inside a transaction the loaders run
    one after another in the caller's thread instead: other threads have their own connections and
    could not see the transaction's uncommitted rows. A loader that raises re-raises here; one that
    exceeds ``timeout`` raises TimeoutError.
    """
    results: dict[str, Any] = {}
    pending: dict[str, Callable[[], Any]] = {}
    for name, loader in loaders.items():
        value = loader.peek() if isinstance(loader, Loader) else NOT_LOCAL
        if value is NOT_LOCAL:
            pending[name] = loader
        else:
            results[name] = value
    if len(pending) <= 1 or connection.in_atomic_block:
        results.update((name, loader()) for name, loader in pending.items())
        return results
    futures = {name: _pool(threads).submit(_in_worker, loader) for name, loader in pending.items()}
    try:
        for name, future in futures.items():
            results[name] = future.result(timeout=timeout)
    except FutureTimeout:
        for future in futures.values():
            future.cancel()
        raise TimeoutError(f"parallel load {name!r} exceeded {timeout}s") from None
    return results


class RuleNode(Generic[Req, Ctx]):
    """One step of a tree. Override ``apply`` (act) and ``route`` (name of the next node or None)."""

    name: str = ""

    def loaders(self, request: Req, ctx: Ctx) -> Mapping[str, Callable[[], Any]]:
        """Independent reads to run in parallel before ``apply``; results go to ``accept_loaded``."""
        return {}

    def accept_loaded(self, request: Req, ctx: Ctx, loaded: dict[str, Any]) -> None:
        """Store what ``loaders`` returned into the context."""

    def apply(self, request: Req, ctx: Ctx) -> Any:
        return None

    def route(self, request: Req, ctx: Ctx) -> str | None:
        return None


class RuleTree(Generic[Req, Ctx]):
    def __init__(
        self, *, root: str, nodes: Iterable[RuleNode[Req, Ctx]], threads: int = 4, timeout: float = 2.0
    ) -> None:
        self.nodes = {node.name: node for node in nodes}
        if root not in self.nodes:
            raise ValueError(f"unknown root node {root!r}")
        self.root = root
        self.threads = threads
        self.timeout = timeout

    def run(self, request: Req, ctx: Ctx) -> Any:
        name: str | None = self.root
        result = None
        visited = 0
        while name is not None:
            node = self.nodes.get(name)
            if node is None:
                raise LookupError(f"rule tree routes to unknown node {name!r}")
            visited += 1
            if visited > len(self.nodes) * 2:
                raise RuntimeError("rule tree does not terminate")
            loaders = node.loaders(request, ctx)
            if loaders:
                node.accept_loaded(request, ctx, parallel_load(loaders, threads=self.threads, timeout=self.timeout))
            result = node.apply(request, ctx)
            name = node.route(request, ctx)
        return result
