"""Reads of dynamic configuration from the database (the source of truth)."""

from apps.dcc.keys import DCC_KEYS
from apps.dcc.models import DccValue


def dcc_stored_values() -> dict[str, str]:
    """Every key with its stored value, or its default where nothing is stored."""
    stored = dict(DccValue.objects.values_list("key", "value"))
    return {name: stored.get(name, key.default) for name, key in DCC_KEYS.items()}
