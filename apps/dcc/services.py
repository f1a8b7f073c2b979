"""Writes of dynamic configuration: validate, store, audit, in one transaction."""

from django.db import transaction

from apps.accounts.models import User
from apps.common.errors import GroupBuyError, ResponseCode
from apps.dcc.keys import DCC_KEYS, InvalidValue
from apps.dcc.models import DccChange, DccValue


def dcc_update(*, key: str, value: str, changed_by: User | None, via: str) -> DccValue:
    """Set one key. Unknown keys and bad values are 0002; an unchanged value writes nothing."""
    definition = DCC_KEYS.get(key)
    if definition is None:
        raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, f"unknown DCC key: {key}")
    try:
        normalized = definition.normalize(value)
    except InvalidValue as exc:
        raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, str(exc)) from None
    with transaction.atomic():
        row, created = DccValue.objects.select_for_update().get_or_create(
            key=key, defaults={"value": normalized, "updated_by": changed_by}
        )
        old_value = definition.default if created else row.value
        if not created and row.value == normalized:
            return row
        if not created:
            row.value = normalized
            row.updated_by = changed_by
            row.save(update_fields=["value", "updated_by", "update_time"])
        DccChange.objects.create(key=key, old_value=old_value, new_value=normalized, changed_by=changed_by, via=via)
    return row
