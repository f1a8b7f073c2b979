"""Discount strategies: properties over random prices and expressions, and the demo examples."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.activities.discounts import InvalidExpression, discount_strategies, stacked_pay_price

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


# --- stacked discounts: the leader offer is a second plan on the first plan's result -----------------------


@given(original=cents, base=_expressions(), leader=_expressions())
def test_a_stacked_price_is_between_a_cent_and_the_first_plans_price(original, base, leader):
    joiner = stacked_pay_price(original, (base,))
    stacked = stacked_pay_price(original, (base, leader))
    assert Decimal("0.01") <= stacked <= joiner <= original
    assert stacked == stacked.quantize(Decimal("0.01"))
    assert (original - stacked) + stacked == original and original - stacked >= 0
    assert stacked == discount_strategies[leader[0]].pay_price(joiner, leader[1])  # the leader plan on the joiner's


@given(original=cents, plans=st.lists(_expressions(), max_size=4))
def test_any_stack_keeps_the_shared_rules(original, plans):
    pay = stacked_pay_price(original, tuple(plans))
    assert Decimal("0.01") <= pay <= original
    assert pay == pay.quantize(Decimal("0.01"))


@pytest.mark.parametrize(
    ("base", "leader", "original", "pay"),
    [
        (("ZJ", "20"), ("ZJ", "10"), "100.00", "70.00"),  # 100 - 20, then - 10
        (("ZJ", "20"), ("ZK", "0.9"), "100.00", "72.00"),  # 80 * 0.9
        (("ZK", "0.8"), ("MJ", "80,5"), "100.00", "75.00"),  # 80 reaches the threshold 80
        (("ZK", "0.79"), ("MJ", "80,5"), "100.00", "79.00"),  # 79 does not: the threshold is the joiner's price
        (("ZJ", "99.99"), ("ZJ", "5"), "100.00", "0.01"),  # never below a cent
        (("N", "9.90"), ("N", "19.90"), "100.00", "9.90"),  # never above the joiner's price
        (("ZK", "0.333"), ("ZK", "0.5"), "10.00", "1.67"),  # 3.33 * 0.5 = 1.665, HALF_UP
    ],
)
def test_stacked_examples(base, leader, original, pay):
    assert stacked_pay_price(Decimal(original), (base, leader)) == Decimal(pay)
