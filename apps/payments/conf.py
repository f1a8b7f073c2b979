"""The payments settings, each read at call time from Django settings, else the environment.

| name | default | meaning |
|---|---|---|
| ``ALIPAY_APP_ID`` | "" | Alipay app id; with both keys below it switches the gateway to Alipay |
| ``ALIPAY_APP_PRIVATE_KEY`` | "" | our app's RSA private key (PEM, or the bare base64 Alipay's tool prints) |
| ``ALIPAY_PUBLIC_KEY`` | "" | Alipay's RSA public key, verifies notifies (PEM or bare base64) |
| ``ALIPAY_DEBUG`` | false | use Alipay's own sandbox environment (openapi-sandbox.dl.alipaydev.com) |
| ``PAYMENT_NOTIFY_BASE_URL`` | "" | absolute base URL gateways reach us at (notify, return URLs) [1] |
| ``SERVER_BASE_URL`` | "" | the address this server answers on; ``run_embedded`` sets it from its addrport |
| ``SANDBOX_APP_ID`` | ``sandbox`` | the built-in sandbox gateway's app id (checked in its notifies) |
| ``SANDBOX_PRIVATE_KEY_PEM`` | "" | the sandbox's signing key; absent: generated once and kept in ``pay_sandbox_key`` |
| ``SANDBOX_NOTIFY_MAX_RETRIES`` | 5 | notify retries after the first attempt |
| ``SANDBOX_NOTIFY_BACKOFF_SECONDS`` | 5 | first retry delay; doubles each retry |
| ``SANDBOX_NOTIFY_TIMEOUT_SECONDS`` | 5 | HTTP timeout of one notify attempt |
| ``MALL_ORDER_CLOSE_BATCH`` | 500 | orders closed per UPDATE by the close job |

[1] Configuration only, never a request's ``Host`` header: a shopper sending ``Host: evil.example``
must not make the sandbox post signed notifies to their host. Unset: ``SERVER_BASE_URL``, else
http://127.0.0.1:8000 (the dev server's default), which fits the embedded demo only; production
must set it (deploy check ``payments.W002``).
"""

import os

from django.conf import settings

FALLBACK_BASE_URL = "http://127.0.0.1:8000"


def setting(name: str, default: str = "") -> str:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    return str(value).strip()


def setting_int(name: str, default: int) -> int:
    raw = setting(name, str(default))
    try:
        return int(raw)
    except ValueError:
        return default


def setting_bool(name: str, default: bool = False) -> bool:
    return setting(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


def notify_base_url() -> str:
    """Where gateways call us back, server to server: from configuration, never from a request."""
    return (setting("PAYMENT_NOTIFY_BASE_URL") or setting("SERVER_BASE_URL") or FALLBACK_BASE_URL).rstrip("/")
