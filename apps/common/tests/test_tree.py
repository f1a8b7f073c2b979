"""The rule-tree building block, through its public API."""

import threading
import time

import pytest
from django.db import transaction

from apps.activities.models import Sku
from apps.activities.tests.factories import SkuFactory
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.tree import RuleNode, RuleTree, parallel_load


class Ctx(dict):
    pass


class Start(RuleNode):
    name = "start"

    def apply(self, request, ctx):
        ctx.setdefault("path", []).append(self.name)

    def route(self, request, ctx):
        return "big" if request > 10 else "small"


class Big(RuleNode):
    name = "big"

    def apply(self, request, ctx):
        ctx["path"].append(self.name)
        return f"big:{request}"


class Small(Big):
    name = "small"

    def apply(self, request, ctx):
        ctx["path"].append(self.name)
        return f"small:{request}"


def test_tree_routes_and_returns_the_last_nodes_result():
    tree = RuleTree(root="start", nodes=[Start(), Big(), Small()])
    ctx = Ctx()
    assert tree.run(42, ctx) == "big:42"
    assert ctx["path"] == ["start", "big"]
    assert tree.run(3, Ctx()) == "small:3"


def test_tree_refuses_unknown_routes_and_roots():
    class Lost(RuleNode):
        name = "lost"

        def route(self, request, ctx):
            return "nowhere"

    with pytest.raises(LookupError):
        RuleTree(root="lost", nodes=[Lost()]).run(1, Ctx())
    with pytest.raises(ValueError):
        RuleTree(root="missing", nodes=[Lost()])


class Loading(RuleNode):
    """Two loaders that can only both finish if they run at the same time."""

    name = "loading"

    def __init__(self):
        self.barrier = threading.Barrier(2, timeout=2)

    def loaders(self, request, ctx):
        def load(label):
            def run():
                self.barrier.wait()
                return (label, threading.current_thread().name)

            return run

        return {"a": load("a"), "b": load("b")}

    def accept_loaded(self, request, ctx, loaded):
        ctx.update(loaded)

    def apply(self, request, ctx):
        return sorted(ctx)


@pytest.mark.django_db(transaction=True)  # outside a transaction, loaders use the pool
def test_node_loaders_run_in_parallel_on_the_pool():
    ctx = Ctx()
    assert RuleTree(root="loading", nodes=[Loading()], threads=2).run(None, ctx) == ["a", "b"]
    assert all(thread.startswith("rule-loader") for _, thread in ctx.values())


@pytest.mark.django_db(transaction=True)  # outside a transaction, loaders use the pool
def test_slow_loader_times_out():
    with pytest.raises(TimeoutError):
        parallel_load({"slow": lambda: time.sleep(1), "fast": lambda: 1}, threads=2, timeout=0.1)


@pytest.mark.django_db(transaction=True)  # outside a transaction, loaders use the pool
def test_loader_error_reaches_the_caller():
    def boom():
        raise GroupBuyError(ResponseCode.E0002)

    with pytest.raises(GroupBuyError):
        parallel_load({"ok": lambda: 1, "boom": boom}, threads=2, timeout=1)


@pytest.mark.django_db(transaction=True)
def test_parallel_loaders_read_the_database_from_their_threads():
    SkuFactory(goods_id="G1")
    SkuFactory(goods_id="G2")
    loaded = parallel_load(
        {k: (lambda k=k: Sku.objects.get(goods_id=k).goods_id) for k in ("G1", "G2")}, threads=2, timeout=5
    )
    assert loaded == {"G1": "G1", "G2": "G2"}


@pytest.mark.django_db
def test_inside_a_transaction_loaders_see_its_uncommitted_rows():
    with transaction.atomic():
        SkuFactory(goods_id="UNCOMMITTED")
        loaded = parallel_load(
            {"a": lambda: Sku.objects.filter(goods_id="UNCOMMITTED").exists(), "b": lambda: threading.current_thread()},
            threads=2,
            timeout=5,
        )
    assert loaded["a"] is True
    assert loaded["b"] is threading.current_thread()
