"""Field types shared by the API serializers."""

from datetime import datetime
from typing import Any

from rest_framework import serializers


class IdField(serializers.CharField):
    """An identifier: non-blank text without surrounding spaces, bounded length."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("allow_blank", False)
        super().__init__(**kwargs)


class MoneyField(serializers.DecimalField):
    """Money on the wire: a string with two decimals ("80.00")."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_digits=10, decimal_places=2, coerce_to_string=True, **kwargs)


_DATETIME = serializers.DateTimeField()


def format_datetime(value: datetime) -> str:
    """A datetime exactly as ``serializers.DateTimeField`` writes it (for answers built without a serializer)."""
    return _DATETIME.to_representation(value)
