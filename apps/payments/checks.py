"""Deploy checks: the sandbox gateway simulates payments (production should configure Alipay), and
gateways need a configured base URL to call us back (never derived from a request's Host header)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

from apps.common.site import public_base_url


@register(Tags.security, deploy=True)
def sandbox_gateway_in_production(app_configs, **kwargs) -> list[Warning]:
    keys = (settings.ALIPAY_APP_ID, settings.ALIPAY_APP_PRIVATE_KEY, settings.ALIPAY_PUBLIC_KEY)
    if all(value.strip() for value in keys):
        return []
    return [
        Warning(
            "The built-in sandbox payment gateway is active: anyone can 'pay' an order with its Pay button.",
            hint="Set ALIPAY_APP_ID, ALIPAY_APP_PRIVATE_KEY and ALIPAY_PUBLIC_KEY.",
            id="payments.W001",
        )
    ]


@register(Tags.security, deploy=True)
def notify_base_url_unset(app_configs, **kwargs) -> list[Warning]:
    if settings.PAYMENT_NOTIFY_BASE_URL.strip():
        return []
    return [
        Warning(
            f"PAYMENT_NOTIFY_BASE_URL is not set: payment notifies go to {public_base_url()}.",
            hint="Set PAYMENT_NOTIFY_BASE_URL to the public https base URL gateways reach this site at.",
            id="payments.W002",
        )
    ]
