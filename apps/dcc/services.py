"""Writes of dynamic configuration: validate, store, audit in one transaction; then mirror and broadcast.

The database is the truth. After the commit the change is applied to this process, written into the
Redis hash ``gbm:dcc`` and PUBLISHed on ``DCC_PUBSUB_CHANNEL`` (see ``apps.dcc.runtime``). A Redis
failure there is logged, never raised: the update stands, and this process re-mirrors the database
into Redis as soon as Redis answers again (``dcc_sync`` does the same by hand).
"""

import logging
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext

from apps.accounts.models import User
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.redis import get_redis
from apps.dcc.keys import DCC_KEYS, InvalidValue
from apps.dcc.models import DccChange, DccValue
from apps.dcc.runtime import DCC_HASH_KEY, dcc_apply, dcc_message, dcc_mirror_failed

logger = logging.getLogger(__name__)


def dcc_update(*, key: str, value: str, changed_by: User | None, via: str) -> DccValue:
    """Set one key. Unknown keys and bad values are 0002; an unchanged value writes nothing."""
    definition = DCC_KEYS.get(key)
    if definition is None:
        raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, gettext("unknown DCC key: %(key)s") % {"key": key})
    try:
        normalized = definition.normalize(value)
    except InvalidValue as exc:
        raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, str(exc)) from None
    with transaction.atomic():
        # Broadcast even an unchanged value: setting a key again is the cheap repair of a lost publish.
        transaction.on_commit(partial(dcc_publish, key=key, value=normalized), robust=True)
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


def dcc_publish(*, key: str, value: str) -> bool:
    """Apply a committed value here, mirror it into Redis and broadcast it; False if Redis failed."""
    dcc_apply(key, value)  # this process first: it must not depend on Redis to see its own change
    try:
        # The mirror first, then the message (no MULTI across both: a cluster takes no PUBLISH in one): a process
        # that hears it and reads the hash finds the value.
        client = get_redis()
        client.hset(DCC_HASH_KEY, key, value)
        client.publish(settings.DCC_PUBSUB_CHANNEL, dcc_message(key, value))
    except Exception as exc:  # the database already holds the change; Redis catches up later
        logger.warning("DCC: %s=%s is committed but could not be published to Redis: %s", key, value, exc)
        dcc_mirror_failed()
        return False
    return True
