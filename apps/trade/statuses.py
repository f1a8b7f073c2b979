"""Order statuses, importable without Django's app registry.

``apps.trade.models`` uses them (``Order.Status``); the benchmark harness, which reads the bench database
without setting Django up, uses the same ``LIVE_ORDER_STATUSES``: one definition for both.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrderStatus(models.IntegerChoices):
    LOCKED = 0, _("locked")
    PAID = 1, _("paid")
    REFUNDED = 2, _("refunded or closed")


# Orders that hold their seat (and their take-limit slot): locked or paid. Plain ints, so they serve as raw SQL
# parameters as well as ORM lookups.
LIVE_ORDER_STATUSES = (OrderStatus.LOCKED.value, OrderStatus.PAID.value)
