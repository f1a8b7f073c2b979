"""Reads of dynamic configuration from the database (the source of truth)."""

from dataclasses import dataclass
from datetime import datetime

from apps.channels.models import ChannelCredential
from apps.dcc.keys import DCC_KEYS, DccKey
from apps.dcc.models import DccValue


def dcc_stored_values() -> dict[str, str]:
    """Every key with its stored value, or its default where nothing is stored."""
    stored = dict(DccValue.objects.values_list("key", "value"))
    return {name: stored.get(name, key.default) for name, key in DCC_KEYS.items()}


@dataclass(frozen=True)
class DccEntry:
    """One registered key as operators see it: the effective value, where it comes from, who set it."""

    definition: DccKey
    value: str
    stored: bool  # False: no row, the default applies
    updated_by: str
    update_time: datetime | None

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def default(self) -> str:
        return self.definition.default

    @property
    def description(self) -> str:
        return str(self.definition.description)


def dcc_entries() -> list[DccEntry]:
    """Every registered key in registry order, stored row or not (one query)."""
    rows = {row.key: row for row in DccValue.objects.select_related("updated_by")}
    entries = []
    for name, definition in DCC_KEYS.items():
        row = rows.get(name)
        entries.append(
            DccEntry(
                definition=definition,
                value=row.value if row else definition.default,
                stored=row is not None,
                updated_by=row.updated_by.get_username() if row and row.updated_by else "",
                update_time=row.update_time if row else None,
            )
        )
    return entries


def dcc_blacklist_pairs() -> list[str]:
    """The source+channel pairs of ``scBlacklist`` as stored now (or its default)."""
    return sorted(DCC_KEYS["scBlacklist"].parse(dcc_stored_values()["scBlacklist"]))


def dcc_channel_pairs() -> list[tuple[str, str]]:
    """(source+channel, label) of every registered channel: what the blacklist form offers."""
    credentials = ChannelCredential.objects.order_by("source", "channel").values_list("source", "channel", "name")
    return [
        (f"{source}{channel}", f"{source} / {channel}" + (f" ({name})" if name else ""))
        for source, channel, name in credentials
    ]
