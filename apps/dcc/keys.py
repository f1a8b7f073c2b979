"""The DCC keys, their defaults and validators (domain.md section 10). One class per value kind."""

from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class InvalidValue(ValueError):
    pass


@dataclass(frozen=True)
class DccKey:
    name: str
    default: str
    description: str | Promise  # lazy: shown in the reader's language (admin, API)

    def parse(self, raw: str) -> Any:
        return raw

    def normalize(self, raw: str) -> str:
        """Validate and return the canonical stored text."""
        self.parse(raw)
        return raw.strip()


@dataclass(frozen=True)
class IntKey(DccKey):
    minimum: int = 0
    maximum: int = 10**9

    def parse(self, raw: str) -> int:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise InvalidValue(_("%(key)s must be a whole number.") % {"key": self.name}) from None
        if not self.minimum <= value <= self.maximum:
            raise InvalidValue(
                _("%(key)s must be between %(min)s and %(max)s.")
                % {"key": self.name, "min": self.minimum, "max": self.maximum}
            )
        return value

    def normalize(self, raw: str) -> str:
        return str(self.parse(raw))


@dataclass(frozen=True)
class ChoiceKey(DccKey):
    choices: tuple[str, ...] = ()

    def parse(self, raw: str) -> str:
        value = str(raw).strip()
        if value not in self.choices:
            raise InvalidValue(
                _("%(key)s must be one of: %(choices)s.") % {"key": self.name, "choices": ", ".join(self.choices)}
            )
        return value


@dataclass(frozen=True)
class ListKey(DccKey):
    """Comma-separated entries, e.g. the blacklist "s02c02,s03c01"."""

    def parse(self, raw: str) -> frozenset[str]:
        entries = [item.strip() for item in str(raw).split(",")]
        if any(not item.isalnum() for item in entries if item):
            raise InvalidValue(_("%(key)s entries are letters and digits, separated by commas.") % {"key": self.name})
        return frozenset(item for item in entries if item)

    def normalize(self, raw: str) -> str:
        return ",".join(sorted(self.parse(raw)))


DCC_KEYS: dict[str, DccKey] = {
    key.name: key
    for key in [
        ChoiceKey("downgradeSwitch", "0", gettext_lazy("1 = downgrade: trials answer E0003"), choices=("0", "1")),
        IntKey(
            "cutRange",
            "100",
            gettext_lazy("users whose hash mod 100 is at most cutRange may take part"),
            minimum=0,
            maximum=100,
        ),
        ListKey("scBlacklist", "s02c02", gettext_lazy("source+channel pairs refused at settlement")),
        ChoiceKey(
            "cacheOpenSwitch", "0", gettext_lazy("0 = activity cache on, 1 = read the database"), choices=("0", "1")
        ),
        ChoiceKey(
            "rateLimiterSwitch", "open", gettext_lazy("trial rate limiting open or close"), choices=("open", "close")
        ),
        IntKey(
            "rateLimitPermitsPerSecond",
            "1",
            gettext_lazy("trial requests per user per second"),
            minimum=1,
            maximum=100000,
        ),
        IntKey(
            "rateLimitBlacklistCount", "1", gettext_lazy("violations before a 24 h blacklist (0 = never)"), minimum=0
        ),
        IntKey(
            "lockTimeoutMinutes", "15", gettext_lazy("unpaid locks are released after this many minutes"), minimum=1
        ),
    ]
}
