from decimal import Decimal

import pytest

from apps.common.money import format_money, quantize_money


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1.005", "1.01"), ("1.004", "1.00"), ("72", "72.00"), (Decimal("-0.005"), "-0.01"), (3, "3.00")],
)
def test_quantize_rounds_half_up_to_cents(raw, expected):
    assert quantize_money(raw) == Decimal(expected)


def test_floats_are_refused():
    with pytest.raises(TypeError):
        quantize_money(0.1)


def test_garbage_is_a_value_error():
    with pytest.raises(ValueError, match="not a money amount"):
        quantize_money("ten")


def test_wire_format_has_two_decimals():
    assert format_money(Decimal("80")) == "80.00"
