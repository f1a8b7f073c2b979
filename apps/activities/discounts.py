"""Discount strategies, one small class per market plan, found through a registry.

Each strategy parses its ``market_expr`` (rejecting nonsense with a message an operator can act
on) and computes the pay price from the original price. Shared rules, applied once here for all:
a result <= 0 becomes 0.01, a result above the original price is capped at it (a discount never
makes a user pay more, e.g. N "199" on a 50.00 SKU), and everything is quantized to cents HALF_UP.

Discounts stack (``stacked_pay_price``): the leader offer of an activity is a second plan applied to the first
plan's result, so the shared rules hold for the stack as a whole (docs/decisions/014-*.md).
"""

from abc import ABC, abstractmethod
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from apps.common.money import CENT, quantize_money
from apps.common.registry import Registry


class InvalidExpression(ValueError):
    """The expression does not fit its market plan; the message says how."""


def _positive_amount(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise InvalidExpression(_("%(value)r is not a number.") % {"value": text}) from None
    if not value.is_finite() or value <= 0:
        raise InvalidExpression(_("The amount must be greater than 0."))
    if value >= Decimal("100000000"):
        raise InvalidExpression(_("The amount is too large."))
    if value != quantize_money(value):
        raise InvalidExpression(_("Amounts have at most two decimal places."))
    return value


class DiscountStrategy(ABC):
    plan: str

    @abstractmethod
    def parse(self, expr: str) -> Any:
        """Validate ``expr``; return the parsed parameters or raise InvalidExpression."""

    @abstractmethod
    def raw_pay_price(self, original: Decimal, params: Any) -> Decimal:
        """The plan's formula, before the shared floor and rounding."""

    def pay_price(self, original: Decimal, expr: str) -> Decimal:
        pay = min(quantize_money(self.raw_pay_price(original, self.parse(expr))), original)
        return pay if pay > 0 else CENT


discount_strategies: Registry[DiscountStrategy] = Registry("discount strategies")


@discount_strategies.register("ZJ")
class FixedOff(DiscountStrategy):
    """直减: pay = original - x."""

    plan = "ZJ"

    def parse(self, expr: str) -> Decimal:
        return _positive_amount(expr)

    def raw_pay_price(self, original: Decimal, params: Decimal) -> Decimal:
        return original - params


@discount_strategies.register("MJ")
class SpendXGetYOff(DiscountStrategy):
    """满减 "x,y": when the original price reaches x, take y off; otherwise no discount."""

    plan = "MJ"

    def parse(self, expr: str) -> tuple[Decimal, Decimal]:
        parts = expr.split(",")
        if len(parts) != 2:
            raise InvalidExpression(_('Expected "threshold,minus", e.g. "100,10".'))
        threshold, minus = (_positive_amount(part) for part in parts)
        if minus >= threshold:
            raise InvalidExpression(_("The amount off must be less than the threshold."))
        return threshold, minus

    def raw_pay_price(self, original: Decimal, params: tuple[Decimal, Decimal]) -> Decimal:
        threshold, minus = params
        return original - minus if original >= threshold else original


@discount_strategies.register("ZK")
class PercentOff(DiscountStrategy):
    """折扣: pay = original * r, with r in (0, 1]."""

    plan = "ZK"

    def parse(self, expr: str) -> Decimal:
        try:
            ratio = Decimal(expr.strip())
        except (InvalidOperation, AttributeError):
            raise InvalidExpression(_("%(value)r is not a number.") % {"value": expr}) from None
        if not ratio.is_finite() or not (0 < ratio <= 1):
            raise InvalidExpression(_("The ratio must be greater than 0 and at most 1, e.g. 0.8."))
        return ratio

    def raw_pay_price(self, original: Decimal, params: Decimal) -> Decimal:
        return original * params


@discount_strategies.register("N")
class PayNYuan(DiscountStrategy):
    """N元购: pay = n."""

    plan = "N"

    def parse(self, expr: str) -> Decimal:
        return _positive_amount(expr)

    def raw_pay_price(self, original: Decimal, params: Decimal) -> Decimal:
        return params


def stacked_pay_price(original: Decimal, plans: tuple[tuple[str, str], ...]) -> Decimal:
    """The price after each ``(market_plan, market_expr)`` of ``plans`` in turn, each applied to the price the one
    before left (the leader offer: the activity's plan, then the leader plan on the joiner's price).

    Each step keeps the shared rules, so the stack does too: at least 0.01, at most ``original`` (a step never
    raises the price it is given), two decimals. A plan without a strategy is a KeyError (the trial's E0001).
    """
    price = original
    for plan, expr in plans:
        price = discount_strategies[plan].pay_price(price, expr)
    return price
