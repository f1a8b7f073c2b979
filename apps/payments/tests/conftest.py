"""Payments fixtures: a sandbox key generated once per session, the demo behind a live server, and the
sandbox's notify transport pointed at Django's test client."""

from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.test import Client

from apps.payments.gateways import gateways_reset
from apps.payments.gateways import sandbox as sandbox_module
from apps.payments.gateways.base import generate_private_key, private_key_pem, public_key_pem
from apps.payments.gateways.sandbox import HttpNotifyTransport


@pytest.fixture(scope="session")
def sandbox_key_pem() -> str:
    return private_key_pem(generate_private_key())


@pytest.fixture(autouse=True)
def _sandbox_gateway(settings, sandbox_key_pem):
    """Every test: the sandbox gateway with the session's key, whatever the environment says."""
    settings.SANDBOX_PRIVATE_KEY_PEM = sandbox_key_pem
    settings.SANDBOX_APP_ID = "sandbox"
    settings.ALIPAY_APP_ID = ""
    settings.PAYMENT_NOTIFY_BASE_URL = ""
    gateways_reset()
    yield
    gateways_reset()


@pytest.fixture
def live_demo(live_server, tasks_run_inline, settings):
    """Demo data behind a real server, which the sandbox notifies as configured (never via Host)."""
    call_command("load_demo")
    settings.PAYMENT_NOTIFY_BASE_URL = live_server.url
    return live_server


@pytest.fixture
def live_shop(live_server, tasks_run_inline, settings, mall_offer):
    """The mall's own offer (``mall_offer``) behind a real server, which the sandbox notifies as configured."""
    settings.PAYMENT_NOTIFY_BASE_URL = live_server.url
    return live_server


@pytest.fixture
def notify_via_test_client(monkeypatch):
    """The sandbox's notify goes through Django's test client to the real handler (same process)."""
    client = Client()
    monkeypatch.setattr(sandbox_module, "notify_transport", HttpNotifyTransport(session=client))
    return client


@pytest.fixture(scope="session")
def alipay_keys() -> tuple:
    """(our app's key, "Alipay's" key): generated once per session."""
    return generate_private_key(), generate_private_key()


@pytest.fixture
def alipay_settings(settings, alipay_keys) -> SimpleNamespace:
    """Alipay configured: the registry switches to it (no network is ever called)."""
    app_key, alipay_key = alipay_keys
    settings.ALIPAY_APP_ID = "2021000000000001"
    settings.ALIPAY_APP_PRIVATE_KEY = private_key_pem(app_key)
    settings.ALIPAY_PUBLIC_KEY = public_key_pem(alipay_key.public_key())
    return SimpleNamespace(app_id="2021000000000001", app_key=app_key, alipay_key=alipay_key)
