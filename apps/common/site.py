"""The site's public base URL, from configuration: what a link sent out of a request names.

``PAYMENT_NOTIFY_BASE_URL`` (the absolute https URL gateways and shoppers reach the site at; production requires it:
config/guards.py, deploy check ``payments.W002``); unset, the ``SERVER_BASE_URL`` environment variable, read here and
not at settings load because ``run_embedded`` sets it from its addrport only when it starts serving; else the dev
server's default, which fits the embedded demo only. Never a request's Host header: a shopper sending
``Host: evil.example`` must not receive signed notifies, nor steer the links of e-mails sent to others.
"""

from __future__ import annotations

import os

from django.conf import settings

FALLBACK_BASE_URL = "http://127.0.0.1:8000"


def public_base_url() -> str:
    """The configured base URL, without a trailing slash."""
    configured = settings.PAYMENT_NOTIFY_BASE_URL.strip() or os.environ.get("SERVER_BASE_URL", "").strip()
    return (configured or FALLBACK_BASE_URL).rstrip("/")
