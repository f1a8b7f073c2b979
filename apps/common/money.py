"""Money is Decimal with two places, rounded HALF_UP, in this one helper only."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TypedDict

CENT = Decimal("0.01")


class MoneyFieldOptions(TypedDict):
    max_digits: int
    decimal_places: int


# A TypedDict, so that ``DecimalField(..., **MONEY_FIELD)`` type-checks as two keyword arguments.
MONEY_FIELD: MoneyFieldOptions = {"max_digits": 10, "decimal_places": 2}


def quantize_money(value: Decimal | int | str) -> Decimal:
    """Round to cents. Floats are refused: they have already lost the exact value."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    try:
        return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise ValueError(f"not a money amount: {value!r}") from exc


def format_money(value: Decimal) -> str:
    """The wire format: a string with exactly two decimals ("80.00")."""
    return f"{quantize_money(value):.2f}"
