"""Reads of the accounts app: whether a trusted device (seamless login) still counts.

Every request of a session that logged in through a device asks whether that device still counts
(``apps.accounts.middleware``), so the answer is cached like channel credentials (``apps.channels.selectors``):
no SQL when warm, dropped after every committed revocation (``services.trusted_devices_revoke``) and every
save or delete of a row (``apps.accounts.signals``), database on any cache failure. The TTL is short
because a request reading the row just before a revocation commits may cache the old state after
the bust; a minute bounds that (rare) window.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from apps.accounts.models import TrustedDevice
from apps.common.cache import cache_delete_on_commit, cached

TRUSTED_DEVICE_CACHE_TTL = 60


@dataclass(frozen=True)
class DeviceState:
    user_id: int
    expires_at: datetime
    revoked: bool

    def counts_for(self, *, user_id: object, now: datetime) -> bool:
        """Still a valid login of ``user_id`` (the session's user id, any type)?"""
        return not self.revoked and self.expires_at > now and str(self.user_id) == str(user_id)


def trusted_device_cache_key(device_id: uuid.UUID) -> str:
    return f"accounts:trusted_device:v1:{device_id.hex}"


def _device_state_load(device_id: uuid.UUID) -> DeviceState | None:
    row = TrustedDevice.objects.filter(device_id=device_id).values("user_id", "expires_at", "revoked_at").first()
    if row is None:
        return None
    return DeviceState(user_id=row["user_id"], expires_at=row["expires_at"], revoked=row["revoked_at"] is not None)


def _device_state_decode(entry: dict) -> DeviceState:
    return DeviceState(
        user_id=entry["user_id"],
        expires_at=datetime.fromtimestamp(entry["expires_at"], tz=UTC),
        revoked=bool(entry["revoked"]),
    )


def trusted_device_state(*, device_id: uuid.UUID) -> DeviceState | None:
    """What the middleware needs to know about a device, or ``None`` if there is no such device."""

    def load() -> dict | None:
        state = _device_state_load(device_id)
        if state is None:
            return None
        return {"user_id": state.user_id, "expires_at": state.expires_at.timestamp(), "revoked": state.revoked}

    return cached(
        trusted_device_cache_key(device_id),
        load,
        ttl=TRUSTED_DEVICE_CACHE_TTL,
        missing_ttl=0,  # an unknown device is not cached: its row may be about to commit
        switchable=False,
        namespace="trusted_device",
        decode=_device_state_decode,
    )


def trusted_device_cache_clear(*, device_id: uuid.UUID) -> None:
    """Forget the cached state of a device everywhere once the transaction commits."""
    cache_delete_on_commit(trusted_device_cache_key(device_id))
