"""The built-in sandbox gateway: a stand-in for Alipay that behaves like it, for the demo and tests.

The shopper opens ``/pay/sandbox/{orderId}`` (a cashier page with a QR code and a Pay button).
Pay records a ``SandboxTrade`` — the gateway's own bookkeeping, written only here, never by the
mall's services — and, after commit, a Celery task posts the RSA2-signed notify to the mall's notify
URL exactly as Alipay does (form fields, ``sign_type=RSA2``), retrying with exponential backoff
until the answer is ``success``.

Keys: ``SANDBOX_PRIVATE_KEY_PEM`` (setting) when given; otherwise a key pair is
generated once and kept in ``pay_sandbox_key``, so every process sharing the database (web, worker)
signs and verifies with the same pair. Tests set a key generated once per session.

Delivery: ``notify_transport`` is the one place that talks HTTP. Its default posts with
``requests``; tests swap it for one whose "session" is a fake adapter or Django's test client. In
the embedded demo Celery is eager, so the delivery runs inside the Pay request, after its commit,
and posts to the threaded dev server itself (retries then follow at once, without the delay).
"""

from __future__ import annotations

import functools
import logging
import secrets
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.money import format_money
from apps.payments.enqueue import SANDBOX_NOTIFY_DELIVER, task_delay
from apps.payments.gateways.base import (
    GATEWAY_TZ,
    PaymentGateway,
    RefundResult,
    gateway_time,
    generate_private_key,
    load_private_key,
    private_key_pem,
    public_key_pem,
    sign_params,
)
from apps.payments.models import PayOrder, SandboxKey, SandboxTrade
from apps.payments.selectors import mall_order_pay_deadline

logger = logging.getLogger(__name__)

_KEY_NAME = "default"


class SandboxGateway(PaymentGateway):
    name = "sandbox"

    def __init__(self, *, app_id: str, private_key: rsa.RSAPrivateKey) -> None:
        super().__init__(app_id=app_id, notify_public_key=private_key.public_key())
        self._private_key = private_key

    def page_pay_url(self, order: PayOrder) -> str:
        return reverse("payments:sandbox-pay", args=[order.order_id])

    def refund(self, *, order: PayOrder, amount: Decimal, out_request_no: str, reason: str = "") -> RefundResult:
        """The sandbox holds no money: a refund of at most what was paid always succeeds."""
        if amount <= 0 or amount > order.pay_amount:
            return RefundResult(success=False, refund_amount=Decimal("0"), raw={"msg": "invalid refund amount"})
        return RefundResult(
            success=True,
            refund_amount=amount,
            raw={"code": "10000", "out_trade_no": order.order_id, "out_request_no": out_request_no,
                 "refund_fee": f"{amount:.2f}", "gmt_refund_pay": gateway_time(timezone.now())},
        )  # fmt: skip

    def sign(self, params: Mapping[str, str]) -> dict[str, str]:
        return sign_params(self._private_key, params)


def sandbox_private_key() -> rsa.RSAPrivateKey:
    pem = settings.SANDBOX_PRIVATE_KEY_PEM.strip().replace("\\n", "\n")
    return load_private_key(pem or _stored_key_pem())


def _stored_key_pem() -> str:
    stored = SandboxKey.objects.filter(name=_KEY_NAME).first()
    if stored is not None:
        return stored.private_key_pem
    key = generate_private_key()
    try:
        with transaction.atomic():
            SandboxKey.objects.create(
                name=_KEY_NAME, private_key_pem=private_key_pem(key), public_key_pem=public_key_pem(key.public_key())
            )
    except IntegrityError:  # another process generated one first: everybody uses that one
        return SandboxKey.objects.get(name=_KEY_NAME).private_key_pem
    logger.info("sandbox gateway: generated its RSA key pair (stored in pay_sandbox_key)")
    return private_key_pem(key)


@functools.cache
def sandbox_gateway() -> SandboxGateway:
    """Built once per process (``gateways_reset`` forgets it)."""
    return SandboxGateway(app_id=settings.SANDBOX_APP_ID.strip(), private_key=sandbox_private_key())


# --- the gateway's side: taking the payment and notifying the mall ------------------------------------------


def _new_trade_no(now: datetime) -> str:
    """28 digits like Alipay's: date, a fixed marker, random."""
    return now.astimezone(GATEWAY_TZ).strftime("%Y%m%d") + "2200" + f"{secrets.randbelow(10**16):016d}"


def sandbox_trade_pay(*, order_id: str, user: User, notify_url: str) -> SandboxTrade:
    """The shopper pressed Pay: record the payment once and send the notify after commit.

    Only the order's owner pays (others: ``PayOrder.DoesNotExist``), only while it waits for
    payment and before its deadline (``GroupBuyError`` E0104 otherwise). Pressing Pay again returns
    the same payment; its notify is already on its way.
    """
    order = PayOrder.objects.get(order_id=order_id, user=user)
    existing = SandboxTrade.objects.filter(out_trade_no=order.order_id).first()
    if existing is not None:
        return existing
    now = timezone.now()
    if order.status != PayOrder.Status.PAY_WAIT:
        raise GroupBuyError(ResponseCode.E0104, _("This order is not waiting for payment."))
    if mall_order_pay_deadline(order=order) <= now:
        raise GroupBuyError(ResponseCode.E0104, _("The payment deadline of this order has passed."))
    with transaction.atomic():
        trade, created = SandboxTrade.objects.get_or_create(
            out_trade_no=order.order_id,
            defaults={
                "trade_no": _new_trade_no(now),
                "app_id": sandbox_gateway().app_id,
                "subject": order.product_name,
                "total_amount": order.pay_amount,
                "paid_at": now,
                "notify_url": notify_url,
                "notify_id": uuid.uuid4().hex,
            },
        )
        if created:
            logger.info("sandbox: order %s paid as trade %s; notifying %s", order.order_id, trade.trade_no, notify_url)
            _enqueue_delivery_on_commit(trade.pk)
    return trade


def _enqueue_delivery_on_commit(trade_id: int) -> None:
    transaction.on_commit(lambda: _enqueue_delivery(trade_id))


def _enqueue_delivery(trade_id: int) -> None:
    try:
        task_delay(SANDBOX_NOTIFY_DELIVER, trade_id)
    except Exception:  # broker down, or an eager run that gave up: staff can resend from admin
        logger.exception("sandbox: notify of trade %s not delivered now", trade_id)


def sandbox_notify_params(trade: SandboxTrade) -> dict[str, str]:
    """The notify as Alipay sends it (``trade_status_sync``), signed."""
    params = {
        "app_id": trade.app_id,
        "charset": "utf-8",
        "gmt_payment": gateway_time(trade.paid_at),
        "notify_id": trade.notify_id,
        "notify_time": gateway_time(timezone.now()),
        "notify_type": "trade_status_sync",
        "out_trade_no": trade.out_trade_no,
        "subject": trade.subject,
        "total_amount": format_money(trade.total_amount),
        "trade_no": trade.trade_no,
        "trade_status": "TRADE_SUCCESS",
        "version": "1.0",
    }
    return sandbox_gateway().sign(params)


class NotifyDeliveryFailed(Exception):
    """The mall did not answer ``success``; the text says what it answered."""


class Session(Protocol):
    def post(self, url: str, *, data: Mapping[str, str], timeout: float, allow_redirects: bool) -> Any: ...


class HttpNotifyTransport:
    """POST the form to the notify URL through a requests-like ``session`` (``requests`` itself by
    default; a test passes a session with a fake adapter, or Django's test client)."""

    def __init__(self, session: Session | None = None) -> None:
        self.session = session if session is not None else requests

    def send(self, url: str, params: Mapping[str, str]) -> None:
        timeout = float(settings.SANDBOX_NOTIFY_TIMEOUT_SECONDS)
        try:
            response = self.session.post(url, data=dict(params), timeout=timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise NotifyDeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        body = response.content.decode("utf-8", "replace").strip()
        if not (200 <= response.status_code < 300 and body == "success"):
            raise NotifyDeliveryFailed(f"HTTP {response.status_code}: {body[:200]!r}")


notify_transport = HttpNotifyTransport()


def sandbox_notify_attempt(*, trade_id: int) -> bool:
    """One delivery attempt; True once the mall has answered ``success`` (then never again)."""
    trade = SandboxTrade.objects.get(pk=trade_id)
    if trade.notify_status == SandboxTrade.NotifyStatus.DELIVERED:
        return True
    attempts = trade.notify_attempts + 1
    try:
        notify_transport.send(trade.notify_url, sandbox_notify_params(trade))
    except NotifyDeliveryFailed as exc:
        logger.warning("sandbox: notify of trade %s, attempt %s failed: %s", trade.trade_no, attempts, exc)
        SandboxTrade.objects.filter(pk=trade_id).update(
            notify_attempts=attempts, last_error=str(exc)[:512], update_time=timezone.now()
        )
        return False
    now = timezone.now()
    SandboxTrade.objects.filter(pk=trade_id).update(
        notify_status=SandboxTrade.NotifyStatus.DELIVERED,
        notify_attempts=attempts,
        last_error="",
        delivered_at=now,
        update_time=now,
    )
    return True


def sandbox_notify_give_up(*, trade_id: int) -> None:
    SandboxTrade.objects.filter(pk=trade_id, notify_status=SandboxTrade.NotifyStatus.PENDING).update(
        notify_status=SandboxTrade.NotifyStatus.FAILED, update_time=timezone.now()
    )
    logger.error("sandbox: notify of trade id %s given up after every retry", trade_id)


def sandbox_notify_resend(*, trade_ids: list[int]) -> int:
    """Staff: another round of attempts for notifies not delivered yet."""
    pending = list(
        SandboxTrade.objects.filter(pk__in=trade_ids)
        .exclude(notify_status=SandboxTrade.NotifyStatus.DELIVERED)
        .values_list("pk", flat=True)
    )
    SandboxTrade.objects.filter(pk__in=pending).update(
        notify_status=SandboxTrade.NotifyStatus.PENDING, notify_attempts=0, update_time=timezone.now()
    )
    for trade_id in pending:
        _enqueue_delivery_on_commit(trade_id)
    return len(pending)
