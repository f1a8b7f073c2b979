"""Who is a new customer, for activities that let only new customers join a team (``new_customers_only``).

A user is *new* on a channel until one of their group-buy orders of that (source, channel) has ever been paid:
an order with a payment time (``out_trade_time``), whether it is still paid or was refunded since. Locked but
unpaid orders, and orders closed without payment, do not count. The mall's own full-price orders are not
group-buy orders and do not count either. Judged when the trial or the lock asks, so two joins racing before the
first payment both pass (the take limit bounds them). See docs/decisions/014-leader-offer-and-new-customer-teams.md.

The orders belong to ``apps.trade``, which sits above activities: it registers its reader here at start
(``paid_before_register``, as it does the crowd tags' trading history), so the trial reads no trade module.
"""

from collections.abc import Callable

# (source, channel, user_id) -> whether the channel's user has ever had a group-buy order paid.
PaidBefore = Callable[..., bool]
_paid_before: PaidBefore | None = None


def paid_before_register(reader: PaidBefore) -> None:
    global _paid_before
    _paid_before = reader


def customer_is_new(*, source: str, channel: str, user_id: str) -> bool:
    """Whether the channel's ``user_id`` has never had a group-buy order paid there (one indexed query)."""
    if _paid_before is None:
        raise LookupError("no paid-order reader is registered (apps.trade registers it at start)")
    return not _paid_before(source=source, channel=channel, user_id=user_id)
