"""Alipay (支付宝) page pay through python-alipay-sdk; used when its app id and both keys are configured.

Building the pay URL signs locally and calls no network. Notifies are verified by the shared RSA2
rule in ``base.py`` with Alipay's public key, the same code path as the sandbox's.
"""

from __future__ import annotations

from decimal import Decimal

from alipay import AliPay
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from apps.common.money import format_money
from apps.common.site import public_base_url
from apps.payments.gateways.base import (
    PaymentGateway,
    RefundResult,
    gateway_time,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
)
from apps.payments.models import PayOrder
from apps.payments.selectors import mall_order_pay_deadline

ALIPAY_GATEWAY_URL = "https://openapi.alipay.com/gateway.do"
ALIPAY_SANDBOX_GATEWAY_URL = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"


class AlipayGateway(PaymentGateway):
    name = "alipay"

    def __init__(
        self, *, app_id: str, app_private_key: rsa.RSAPrivateKey, alipay_public_key: rsa.RSAPublicKey, debug: bool
    ) -> None:
        super().__init__(app_id=app_id, notify_public_key=alipay_public_key)
        self.gateway_url = ALIPAY_SANDBOX_GATEWAY_URL if debug else ALIPAY_GATEWAY_URL
        self._client = AliPay(
            appid=app_id,
            app_private_key_string=private_key_pem(app_private_key),
            alipay_public_key_string=public_key_pem(alipay_public_key),
            sign_type="RSA2",
            debug=debug,
        )

    def refund(self, *, order: PayOrder, amount: Decimal, out_request_no: str, reason: str = "") -> RefundResult:
        """alipay.trade.refund; Alipay is idempotent on out_request_no (a retry never pays twice)."""
        raw = self._client.api_alipay_trade_refund(
            refund_amount=f"{amount:.2f}", out_trade_no=order.order_id, out_request_no=out_request_no,
            refund_reason=reason or "group buy refund",
        )  # fmt: skip
        ok = raw.get("code") == "10000" and raw.get("fund_change") in ("Y", None)
        return RefundResult(success=ok, refund_amount=amount if ok else Decimal("0"), raw=dict(raw))

    def page_pay_url(self, order: PayOrder) -> str:
        base = public_base_url()
        biz_content = {
            "subject": order.product_name,
            "out_trade_no": order.order_id,
            "total_amount": format_money(order.pay_amount),
            "product_code": "FAST_INSTANT_TRADE_PAY",
            # Alipay closes the trade at our pay deadline: no payment can arrive for a closed order.
            "time_expire": gateway_time(mall_order_pay_deadline(order=order)),
        }
        query = self._client.client_api(
            "alipay.trade.page.pay",
            biz_content,
            return_url=base + reverse("payments:cashier", args=[order.order_id]),
            notify_url=base + reverse("alipay-notify"),
            timestamp=gateway_time(timezone.now()),  # the SDK would use the server's naive local time
        )
        return f"{self.gateway_url}?{query}"


def alipay_gateway_from_settings() -> AlipayGateway | None:
    """The Alipay gateway when ``ALIPAY_APP_ID`` and both keys are set; None otherwise."""
    app_id = settings.ALIPAY_APP_ID.strip()
    private_key = settings.ALIPAY_APP_PRIVATE_KEY.strip().replace("\\n", "\n")
    public_key = settings.ALIPAY_PUBLIC_KEY.strip().replace("\\n", "\n")
    if not (app_id and private_key and public_key):
        return None
    return AlipayGateway(
        app_id=app_id,
        app_private_key=load_private_key(private_key),
        alipay_public_key=load_public_key(public_key),
        debug=bool(settings.ALIPAY_DEBUG),
    )
