"""Where a channel's HTTP callbacks may go (api.md "Channel isolation": notifyUrl).

A ``notifyUrl`` is http(s), carries no user:password, and names a host on the channel's allow-list
(``ChannelCredential.notify_hosts``: exact hosts, or ``*.example.com`` for subdomains). A host that is an
IP literal outside the public internet (loopback, private, link-local such as a cloud metadata address,
reserved) is refused unless the channel explicitly allows private addresses (local and demo setups):
otherwise one mall's callbacks could be aimed at the platform's own network.

Decision: names are matched, not resolved. The allow-list is the operator's statement of which hosts
belong to the mall; resolving here would give a time-of-check answer that DNS can change before the
delivery anyway.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from apps.channels.models import ChannelCredential

_LOCAL_NAMES = ("localhost", ".localhost")


def _host_allowed(host: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and host != pattern[2:]:
                return True
        elif host == pattern:
            return True
    return False


def _is_private(host: str) -> bool:
    if host == _LOCAL_NAMES[0] or host.endswith(_LOCAL_NAMES[1]):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


def notify_url_refusal(*, credential: ChannelCredential, url: str) -> str | None:
    """Why ``url`` may not receive this channel's callbacks, or None when it may."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        return _("notifyUrl is not a valid URL.")
    if parts.scheme not in ("http", "https") or not host:
        return _("notifyUrl must be an http or https URL.")
    if parts.username is not None or parts.password is not None:
        return _("notifyUrl must not carry a user name or password.")
    if _is_private(host) and not credential.notify_private_allowed:
        return _("notifyUrl may not point at a loopback, private or link-local address.")
    if not _host_allowed(host, credential.notify_host_patterns):
        return _("notifyUrl's host is not allowed for this channel (set its callback hosts in admin).")
    return None
