"""What every payment gateway offers the mall, and the one RSA2 notify-signature rule they share.

Alipay's rule (also the sandbox's, so the notify handler has one code path): the sign content is
every parameter except ``sign`` and ``sign_type``, sorted by key, ``key=value`` joined with ``&``,
values as received (form-decoded, not URL-encoded again). ``sign`` is base64 of
SHA256withRSA (PKCS#1 v1.5) over the UTF-8 content; ``sign_type`` must be ``RSA2``.
"""

from __future__ import annotations

import base64
import binascii
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

if TYPE_CHECKING:
    from apps.payments.models import PayOrder

SIGN_TYPE = "RSA2"
UNSIGNED_PARAMS = frozenset({"sign", "sign_type"})
# Alipay speaks Beijing time in gmt_payment / notify_time / time_expire, whatever our TIME_ZONE.
GATEWAY_TZ = ZoneInfo("Asia/Shanghai")
GATEWAY_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def gateway_time(moment: datetime) -> str:
    return moment.astimezone(GATEWAY_TZ).strftime(GATEWAY_TIME_FORMAT)


def sign_content(params: Mapping[str, str]) -> str:
    return "&".join(f"{key}={params[key]}" for key in sorted(params) if key not in UNSIGNED_PARAMS)


def rsa2_sign(private_key: rsa.RSAPrivateKey, content: str) -> str:
    signature = private_key.sign(content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def rsa2_verify(public_key: rsa.RSAPublicKey, content: str, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        public_key.verify(raw, content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def sign_params(private_key: rsa.RSAPrivateKey, params: Mapping[str, str]) -> dict[str, str]:
    """``params`` plus ``sign_type`` and ``sign``: what a gateway posts to the notify URL."""
    signed = {key: value for key, value in params.items() if key not in UNSIGNED_PARAMS}
    signed["sign_type"] = SIGN_TYPE
    signed["sign"] = rsa2_sign(private_key, sign_content(signed))
    return signed


# --- keys: PEM, or the bare base64 DER that Alipay's key tool prints -------------------------------------


def _der(text: str) -> bytes:
    return base64.b64decode("".join(text.split()), validate=True)


def load_private_key(text: str) -> rsa.RSAPrivateKey:
    text = text.strip()
    try:
        if "-----BEGIN" in text:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            key = serialization.load_der_private_key(_der(text), password=None)
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not an RSA private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public_key(text: str) -> rsa.RSAPublicKey:
    text = text.strip()
    try:
        if "-----BEGIN" in text:
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(_der(text))
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not an RSA public key: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_key_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# --- the interface -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundResult:
    """What a gateway answers to a refund request (used by the refund work)."""

    success: bool
    refund_amount: Decimal
    raw: dict


class PaymentGateway(ABC):
    """A payment gateway as the mall sees it: where the shopper pays, and who may tell us they did."""

    name: ClassVar[str]

    def __init__(self, *, app_id: str, notify_public_key: rsa.RSAPublicKey) -> None:
        self.app_id = app_id
        self.notify_public_key = notify_public_key

    @abstractmethod
    def page_pay_url(self, order: PayOrder) -> str:
        """The URL the shopper opens to pay ``order`` (relative for the built-in sandbox)."""

    def verify_notify(self, params: Mapping[str, str]) -> bool:
        """True when ``params`` carry a valid RSA2 signature by this gateway (app id and amount are
        the handler's checks)."""
        signature = params.get("sign", "")
        if params.get("sign_type") != SIGN_TYPE or not signature:
            return False
        return rsa2_verify(self.notify_public_key, sign_content(params), signature)

    def refund(self, *, order: PayOrder, amount: Decimal, out_request_no: str, reason: str = "") -> RefundResult:
        """Give ``amount`` of ``order``'s payment back; idempotent on ``out_request_no``."""
        raise NotImplementedError(f"{self.name}: gateway refunds are not implemented yet")
