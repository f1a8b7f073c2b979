"""The notify URL a gateway calls back is configuration, never the Host header of the shopper's request.

A shopper (or anyone with a session) can send ``Host: evil.example``; if Django accepts the host
(a wildcard or sloppy ALLOWED_HOSTS), the notify must still go to the configured base.
"""

import pytest
from django.core.checks import run_checks

from apps.payments.gateways import sandbox as sandbox_module
from apps.payments.models import SandboxTrade
from apps.payments.tests.helpers import create_order, login

pytestmark = pytest.mark.django_db

HOSTILE = "evil.example"
NOTIFY_PATH = "/api/v1/alipay/alipay_notify_url"


class RecordingTransport:
    def __init__(self) -> None:
        self.urls: list[str] = []

    def send(self, url, params) -> None:
        self.urls.append(url)


@pytest.fixture
def transport(monkeypatch) -> RecordingTransport:
    recording = RecordingTransport()
    monkeypatch.setattr(sandbox_module, "notify_transport", recording)
    return recording


@pytest.fixture
def hostile_host_allowed(settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOSTILE]


def pay_with_hostile_host(client, capture, goods_id: str, username: str = "xiaofuge") -> str:
    order = create_order(username, goods_id)
    login(client, username)
    with capture(execute=True):
        response = client.post(f"/pay/sandbox/{order.order_id}", HTTP_HOST=HOSTILE)
    assert response.status_code == 302
    return SandboxTrade.objects.get(out_trade_no=order.order_id).notify_url


def test_a_hostile_host_header_does_not_receive_the_notify(
    mall_offer, client, settings, hostile_host_allowed, transport, tasks_run_inline, django_capture_on_commit_callbacks
):
    settings.PAYMENT_NOTIFY_BASE_URL = "https://shop.example.com"
    notify_url = pay_with_hostile_host(client, django_capture_on_commit_callbacks, mall_offer.goods_id)
    assert notify_url == "https://shop.example.com" + NOTIFY_PATH
    assert transport.urls == [notify_url]


def test_unconfigured_it_is_this_servers_own_address_not_the_host_header(
    mall_offer,
    client,
    hostile_host_allowed,
    transport,
    tasks_run_inline,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    monkeypatch.delenv("SERVER_BASE_URL", raising=False)
    notify_url = pay_with_hostile_host(client, django_capture_on_commit_callbacks, mall_offer.goods_id)
    assert notify_url == "http://127.0.0.1:8000" + NOTIFY_PATH
    assert transport.urls == [notify_url] and HOSTILE not in transport.urls[0]

    monkeypatch.setenv("SERVER_BASE_URL", "http://127.0.0.1:8123")  # what run_embedded sets from its addrport
    again = pay_with_hostile_host(client, django_capture_on_commit_callbacks, mall_offer.goods_id, username="demo1")
    assert again == "http://127.0.0.1:8123" + NOTIFY_PATH


def test_run_embedded_names_its_own_address():
    from apps.demo.management.commands.run_embedded import local_base_url

    assert local_base_url("127.0.0.1:8001") == "http://127.0.0.1:8001"
    assert local_base_url("8002") == "http://127.0.0.1:8002"
    assert local_base_url("0.0.0.0:9000") == "http://127.0.0.1:9000"


def test_the_deploy_check_warns_while_the_notify_base_is_unset(settings):
    settings.PAYMENT_NOTIFY_BASE_URL = ""
    assert "payments.W002" in {message.id for message in run_checks(include_deployment_checks=True)}
    settings.PAYMENT_NOTIFY_BASE_URL = "https://shop.example.com"
    assert "payments.W002" not in {message.id for message in run_checks(include_deployment_checks=True)}
