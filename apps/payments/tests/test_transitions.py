"""Every PayOrder status change is ``pay_order_transition``, allowed by the one table next to the model."""

import ast
from itertools import product
from pathlib import Path

import pytest
from django.db.models import Q

from apps.payments.models import PAY_ORDER_TRANSITIONS, PayOrder, PayOrderTransitionError, pay_order_transition
from apps.payments.tests.factories import PayOrderFactory

STATES = list(PayOrder.Status)
ALLOWED = [(src, to) for src, to in product(STATES, STATES) if to in PAY_ORDER_TRANSITIONS[src]]
REFUSED = [(src, to) for src, to in product(STATES, STATES) if to not in PAY_ORDER_TRANSITIONS[src]]
APPS = Path(__file__).resolve().parents[2]


def test_the_table_names_every_state():
    assert set(PAY_ORDER_TRANSITIONS) == set(STATES)
    assert all(targets <= set(STATES) for targets in PAY_ORDER_TRANSITIONS.values())


@pytest.mark.django_db
@pytest.mark.parametrize(("src", "to"), ALLOWED)
def test_every_allowed_transition_moves_the_row_once(src, to):
    order = PayOrderFactory(status=src)
    assert pay_order_transition(Q(pk=order.pk), from_={src}, to=to, market_code="T") == 1
    order.refresh_from_db()
    assert (order.status, order.market_code) == (to, "T")
    if src != to:  # the condition is repeated in the UPDATE: a second caller changes nothing
        assert pay_order_transition(Q(pk=order.pk), from_={src}, to=to) == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("src", "to"), REFUSED)
def test_a_transition_the_table_refuses_raises_and_leaves_the_row(src, to):
    order = PayOrderFactory(status=src)
    with pytest.raises(PayOrderTransitionError):
        pay_order_transition(Q(pk=order.pk), from_={src}, to=to)
    if any(to in targets for targets in PAY_ORDER_TRANSITIONS.values()):
        # Without ``from_``: every state the table lets into ``to``; a row in another state is left alone.
        assert pay_order_transition(Q(pk=order.pk), to=to) == 0
    else:  # nothing ever goes back to CREATE
        with pytest.raises(PayOrderTransitionError):
            pay_order_transition(Q(pk=order.pk), to=to)
    assert PayOrder.objects.get(pk=order.pk).status == src


WRITES = {"update", "bulk_update", "update_or_create", "get_or_create", "save"}


def _status_writes(path: Path) -> list[str]:
    """Calls on something named ``PayOrder...`` that write ``status`` (``.update(status=...)``, ``defaults``,
    ``bulk_update(..., ["status"])``), and any ``.save()`` (the mall writes rows by UPDATE, never by save)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITES):
            continue
        on_pay_order = "PayOrder" in ast.unparse(node.func.value)
        arguments = [ast.unparse(arg) for arg in node.args] + [
            f"{kw.arg}={ast.unparse(kw.value)}" for kw in node.keywords
        ]
        if (node.func.attr == "save" and "payments" in path.parts) or (on_pay_order and "status" in str(arguments)):
            found.append(f"{path.relative_to(APPS)}:{node.lineno}: {ast.unparse(node)[:100]}")
    return found


def test_no_status_write_outside_the_transition_function():
    """The code writes ``pay_order.status`` only through ``pay_order_transition`` (its creation as CREATE
    aside). Tests and migrations set rows up as they need."""
    modules = [
        path
        for path in APPS.rglob("*.py")
        if "tests" not in path.parts and "migrations" not in path.parts and path.name != "models.py"
    ]
    assert len(modules) > 50
    assert [write for path in modules for write in _status_writes(path)] == []
