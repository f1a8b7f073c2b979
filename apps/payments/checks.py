"""Deploy check: the sandbox gateway simulates payments; production should configure Alipay."""

from django.core.checks import Tags, Warning, register

from apps.payments import conf


@register(Tags.security, deploy=True)
def sandbox_gateway_in_production(app_configs, **kwargs) -> list[Warning]:
    if conf.setting("ALIPAY_APP_ID") and conf.setting("ALIPAY_APP_PRIVATE_KEY") and conf.setting("ALIPAY_PUBLIC_KEY"):
        return []
    return [
        Warning(
            "The built-in sandbox payment gateway is active: anyone can 'pay' an order with its Pay button.",
            hint="Set ALIPAY_APP_ID, ALIPAY_APP_PRIVATE_KEY and ALIPAY_PUBLIC_KEY.",
            id="payments.W001",
        )
    ]
