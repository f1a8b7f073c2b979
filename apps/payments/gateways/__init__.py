"""Payment gateways: the interface (``base.PaymentGateway``), Alipay and the built-in sandbox.

``payment_gateway()`` is the one the mall uses: Alipay when ``ALIPAY_APP_ID``,
``ALIPAY_APP_PRIVATE_KEY`` and ``ALIPAY_PUBLIC_KEY`` are configured, the sandbox otherwise. Built
once per process; ``gateways_reset()`` (also run when one of those settings changes in a test)
builds it again.
"""

from __future__ import annotations

import functools
from typing import Any

from apps.payments.gateways.base import PaymentGateway
from apps.payments.gateways.sandbox import SandboxGateway, sandbox_gateway

GATEWAY_SETTINGS = frozenset(
    {
        "ALIPAY_APP_ID",
        "ALIPAY_APP_PRIVATE_KEY",
        "ALIPAY_PUBLIC_KEY",
        "ALIPAY_DEBUG",
        "SANDBOX_APP_ID",
        "SANDBOX_PRIVATE_KEY_PEM",
    }
)


@functools.cache
def payment_gateway() -> PaymentGateway:
    from apps.payments.gateways.alipay import alipay_gateway_from_settings

    return alipay_gateway_from_settings() or sandbox_gateway()


def sandbox_active() -> bool:
    return isinstance(payment_gateway(), SandboxGateway)


def gateways_reset(**kwargs: Any) -> None:
    """Forget the built gateways (a ``setting_changed`` receiver too: ``setting=`` names the change)."""
    if kwargs.get("setting") not in (None, *GATEWAY_SETTINGS):
        return
    payment_gateway.cache_clear()
    sandbox_gateway.cache_clear()


__all__ = ["PaymentGateway", "SandboxGateway", "gateways_reset", "payment_gateway", "sandbox_active", "sandbox_gateway"]
