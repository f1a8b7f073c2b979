"""Gateways: the RSA2 sign rule both share, the registry's choice, Alipay's pay URL, sandbox keys."""

import base64
import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from django.test import Client

from apps.payments.gateways import gateways_reset, payment_gateway, sandbox_gateway
from apps.payments.gateways.alipay import AlipayGateway
from apps.payments.gateways.base import (
    generate_private_key,
    load_private_key,
    load_public_key,
    public_key_pem,
    rsa2_sign,
    rsa2_verify,
    sign_content,
    sign_params,
)
from apps.payments.gateways.sandbox import SandboxGateway
from apps.payments.models import PayOrder, SandboxKey
from apps.payments.tests.helpers import NOTIFY_URL, create_order, notify_params


def test_sign_content_is_sorted_unencoded_and_skips_the_signature():
    params = {"b": "2", "a": "x y&z=中", "sign": "S", "sign_type": "RSA2", "c": ""}
    assert sign_content(params) == "a=x y&z=中&b=2&c="


def test_rsa2_round_trip_and_what_breaks_it():
    key, other = generate_private_key(), generate_private_key()
    signature = rsa2_sign(key, "a=1&b=2")
    assert rsa2_verify(key.public_key(), "a=1&b=2", signature)
    assert not rsa2_verify(key.public_key(), "a=1&b=3", signature)
    assert not rsa2_verify(other.public_key(), "a=1&b=2", signature)
    assert not rsa2_verify(key.public_key(), "a=1&b=2", "not base64!")
    assert not rsa2_verify(key.public_key(), "a=1&b=2", base64.b64encode(b"short").decode())


def test_signed_params_verify_until_any_value_changes():
    gateway = sandbox_gateway()
    signed = gateway.sign({"out_trade_no": "1", "total_amount": "80.00", "sign": "stale"})
    assert signed["sign_type"] == "RSA2" and signed["sign"] != "stale"
    assert gateway.verify_notify(signed)
    for key in ("out_trade_no", "total_amount"):
        assert not gateway.verify_notify({**signed, key: signed[key] + "0"})
    assert not gateway.verify_notify({**signed, "extra": "x"})


def test_keys_load_from_pem_or_alipays_bare_base64():
    key = generate_private_key()
    der_private = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    der_public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    bare_private = base64.b64encode(der_private).decode()
    bare_public = base64.b64encode(der_public).decode()
    assert load_private_key(bare_private).private_numbers() == key.private_numbers()
    assert load_public_key(bare_public).public_numbers() == key.public_key().public_numbers()
    assert load_public_key(public_key_pem(key.public_key())).public_numbers() == key.public_key().public_numbers()
    with pytest.raises(ValueError):
        load_private_key("nonsense")


def test_the_sandbox_is_the_default_gateway():
    assert isinstance(payment_gateway(), SandboxGateway)
    assert payment_gateway().app_id == "sandbox"


@pytest.mark.django_db
def test_without_a_configured_key_the_sandbox_generates_one_and_keeps_it(settings):
    settings.SANDBOX_PRIVATE_KEY_PEM = ""
    first = sandbox_gateway().notify_public_key.public_numbers()
    assert SandboxKey.objects.count() == 1
    gateways_reset()
    assert sandbox_gateway().notify_public_key.public_numbers() == first
    assert SandboxKey.objects.count() == 1


def test_alipay_is_chosen_when_configured(alipay_settings):
    gateway = payment_gateway()
    assert isinstance(gateway, AlipayGateway)
    assert gateway.app_id == alipay_settings.app_id


def test_alipay_needs_all_three_settings(alipay_settings, settings):
    settings.ALIPAY_PUBLIC_KEY = ""
    assert isinstance(payment_gateway(), SandboxGateway)


@pytest.mark.django_db
def test_alipays_page_pay_url_is_signed_by_our_app_key(mall_offer, alipay_settings, settings):
    settings.PAYMENT_NOTIFY_BASE_URL = "https://shop.example.com"
    order = create_order("xiaofuge", mall_offer.goods_id)
    url = order.pay_url
    assert url.startswith("https://openapi.alipay.com/gateway.do?")
    assert len(url) <= PayOrder._meta.get_field("pay_url").max_length
    params = dict(parse_qsl(urlsplit(url).query))
    assert (params["app_id"], params["method"], params["sign_type"]) == (
        alipay_settings.app_id,
        "alipay.trade.page.pay",
        "RSA2",
    )
    assert params["notify_url"] == "https://shop.example.com/api/v1/alipay/alipay_notify_url"
    assert params["return_url"] == f"https://shop.example.com/cashier/{order.order_id}"
    biz = json.loads(params["biz_content"])
    assert (biz["out_trade_no"], biz["total_amount"], biz["product_code"]) == (
        order.order_id,
        "80.00",
        "FAST_INSTANT_TRADE_PAY",
    )
    assert biz["subject"] == mall_offer.sku.goods_name and len(biz["time_expire"]) == 19
    # Requests to Alipay are signed over everything but ``sign`` (the SDK's rule; notifies drop sign_type too).
    request_content = "&".join(f"{key}={params[key]}" for key in sorted(params) if key != "sign")
    assert rsa2_verify(alipay_settings.app_key.public_key(), request_content, params["sign"])


@pytest.mark.django_db
def test_with_alipay_the_handler_verifies_alipays_signature_only(mall_offer, alipay_settings):
    order = create_order("xiaofuge", mall_offer.goods_id)
    sandbox_signed = notify_params(order, app_id=alipay_settings.app_id)
    unsigned = {k: v for k, v in sandbox_signed.items() if k not in ("sign", "sign_type")}
    alipay_signed = sign_params(alipay_settings.alipay_key, unsigned)
    gateway = Client()
    assert gateway.post(NOTIFY_URL, sandbox_signed).content == b"fail"
    assert PayOrder.objects.get(pk=order.pk).status == PayOrder.Status.PAY_WAIT
    assert gateway.post(NOTIFY_URL, alipay_signed).content == b"success"
    assert PayOrder.objects.get(pk=order.pk).status == PayOrder.Status.PAY_SUCCESS
