"""Reads of channel signing: the credential of a calling mall.

``channel_credential_get`` sits on the hot path of every signed request, so it is served through the
one read-through cache (``apps.common.cache.cached``, outside ``cacheOpenSwitch``) and costs no SQL
query when warm:

* the row is cached as a plain dict of its column values (not a pickled model), for
  ``CREDENTIAL_CACHE_TTL`` seconds; an unknown pair is cached as "missing" for the shorter
  ``CREDENTIAL_MISSING_TTL``, so a caller probing random channels cannot hammer the database;
* ``apps.channels.signals`` deletes the entry after every committed save or delete of a credential
  (admin included), so a rotated secret or a disabled channel takes effect at once. Writes that bypass
  signals (``QuerySet.update``, raw SQL) are picked up when the entry expires;
* any cache failure (Redis down, timeout) is logged and the database answers: never a 500;
* each process also keeps what it read from Redis in memory for ``LOCAL_CACHE_TTL_SECONDS``, and
  forgets it when the invalidation is broadcast (``apps.common.cache``): a warm signed request costs
  neither SQL nor a Redis round trip for its credential.

Source and channel are matched exactly (case and trailing spaces included) even though MariaDB's
default collation would match ``S01`` to ``s01``: one pair, one cache key, one answer on every backend.
"""

import logging

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, models

from apps.channels.models import ChannelCredential
from apps.common.cache import cache_delete_on_commit, cached, key_part

logger = logging.getLogger(__name__)

CREDENTIAL_CACHE_TTL = 300
CREDENTIAL_MISSING_TTL = 60


def _max_length(name: str) -> int:
    field = ChannelCredential._meta.get_field(name)
    if not isinstance(field, models.CharField) or field.max_length is None:
        raise TypeError(f"ChannelCredential.{name} is not a bounded CharField")
    return field.max_length


_SOURCE_MAX = _max_length("source")
_CHANNEL_MAX = _max_length("channel")
_FIELD_NAMES = tuple(field.attname for field in ChannelCredential._meta.concrete_fields)


def channel_credential_cache_key(*, source: str, channel: str) -> str:
    # Quoted so that no ":" inside a value can make two pairs share a key. The "accounts:" prefix predates
    # this app: kept so that old and new processes of a rolling deploy bust the same entries.
    return f"accounts:channel_credential:v1:{key_part(source)}:{key_part(channel)}"


def _load(source: str, channel: str) -> ChannelCredential | None:
    credential = ChannelCredential.objects.filter(source=source, channel=channel).first()
    if credential is None or credential.source != source or credential.channel != channel:
        return None
    return credential


def _to_cache(credential: ChannelCredential | None) -> dict | None:
    if credential is None:
        return None
    return {name: getattr(credential, name) for name in _FIELD_NAMES}


def _from_cache(values: dict) -> ChannelCredential:
    # from_db builds the instance as if loaded (``_state.adding`` False): saving it updates the row.
    return ChannelCredential.from_db(DEFAULT_DB_ALIAS, list(_FIELD_NAMES), [values[name] for name in _FIELD_NAMES])


def channel_credential_get(*, source: str, channel: str) -> ChannelCredential | None:
    """The credential of a calling mall's (source, channel), or ``None`` if there is none.

    Disabled credentials are returned too: deciding what "disabled" means is the caller's job.
    """
    if not source or not channel or len(source) > _SOURCE_MAX or len(channel) > _CHANNEL_MAX:
        return None  # cannot exist; keeps junk out of the cache and the database
    return cached(
        channel_credential_cache_key(source=source, channel=channel),
        lambda: _to_cache(_load(source, channel)),
        ttl=CREDENTIAL_CACHE_TTL,
        missing_ttl=CREDENTIAL_MISSING_TTL,
        local_ttl=settings.LOCAL_CACHE_TTL_SECONDS,
        switchable=False,  # every signed request needs it: held whatever cacheOpenSwitch says
        namespace="channel_credential",
        decode=_from_cache,
    )


def channel_credential_cache_clear(*, source: str, channel: str) -> None:
    """Forget the cached credential of a pair everywhere once the transaction commits."""
    cache_delete_on_commit(channel_credential_cache_key(source=source, channel=channel))
