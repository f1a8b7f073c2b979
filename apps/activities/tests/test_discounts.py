"""Discount strategies: properties over random prices and expressions, and the demo examples."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.activities.discounts import InvalidExpression, discount_strategies

cents = st.integers(min_value=1, max_value=10_000_000).map(lambda n: Decimal(n) / 100)
ratios = st.integers(min_value=1, max_value=100).map(lambda n: Decimal(n) / 100)


def _expressions():
    return st.one_of(
        st.tuples(st.just("ZJ"), cents.map(str)),
        st.tuples(st.just("N"), cents.map(str)),
        st.tuples(st.just("ZK"), ratios.map(str)),
        st.tuples(st.just("MJ"), st.tuples(cents, cents).filter(lambda t: t[1] < t[0]).map(lambda t: f"{t[0]},{t[1]}")),
    )


@given(original=cents, plan_expr=_expressions())
def test_pay_price_is_between_a_cent_and_the_original(original, plan_expr):
    plan, expr = plan_expr
    pay = discount_strategies.get(plan).pay_price(original, expr)
    deduction = original - pay
    assert Decimal("0.01") <= pay <= original
    assert deduction >= 0
    assert pay + deduction == original
    assert pay == pay.quantize(Decimal("0.01"))


@given(original=cents, threshold=cents, minus=cents)
def test_mj_discounts_only_at_or_above_the_threshold(original, threshold, minus):
    if minus >= threshold:
        return
    pay = discount_strategies.get("MJ").pay_price(original, f"{threshold},{minus}")
    if original >= threshold:
        assert pay == max(original - minus, Decimal("0.01"))
    else:
        assert pay == original  # the reference's inverted threshold is not copied


@pytest.mark.parametrize(
    ("plan", "expr", "original", "pay"),
    [
        ("ZJ", "20", "100.00", "80.00"),
        ("MJ", "100,10", "120.00", "110.00"),
        ("ZK", "0.8", "90.00", "72.00"),
        ("N", "1.99", "50.00", "1.99"),
        ("ZJ", "30", "100.00", "70.00"),
        ("ZJ", "150", "100.00", "0.01"),  # never free, never negative
        ("N", "199", "50.00", "50.00"),  # never above the original
        ("ZK", "0.333", "10.00", "3.33"),  # HALF_UP at the cent
        ("ZK", "0.335", "10.00", "3.35"),
        ("MJ", "100,10", "99.99", "99.99"),
    ],
)
def test_examples(plan, expr, original, pay):
    assert discount_strategies.get(plan).pay_price(Decimal(original), expr) == Decimal(pay)


@pytest.mark.parametrize(
    ("plan", "expr"),
    [("ZJ", "0"), ("ZJ", "-1"), ("ZJ", "1.001"), ("ZJ", "NaN"), ("MJ", "10"), ("MJ", "10,10"), ("MJ", "a,b"),
     ("ZK", "0"), ("ZK", "1.01"), ("ZK", "Infinity"), ("N", ""), ("N", "1e400")],
)  # fmt: skip
def test_nonsense_expressions_are_refused(plan, expr):
    with pytest.raises(InvalidExpression):
        discount_strategies.get(plan).parse(expr)
