"""The sandbox gateway: Pay button, signed notify delivered asynchronously with retries like Alipay's."""

from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
from django.test import Client

from apps.payments.gateways import sandbox as sandbox_module
from apps.payments.gateways import sandbox_gateway
from apps.payments.gateways.sandbox import HttpNotifyTransport, sandbox_trade_pay
from apps.payments.models import PayOrder, SandboxTrade
from apps.payments.tasks import notify_retry_countdown, sandbox_notify_deliver
from apps.payments.tests.helpers import create_order, login, user
from apps.trade.models import Order

pytestmark = pytest.mark.django_db


class FakeAdapter(requests.adapters.BaseAdapter):
    """A requests transport that answers from a script: (status, body) or an exception."""

    def __init__(self, answers: list) -> None:
        super().__init__()
        self.answers = list(answers)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        response = requests.Response()
        response.status_code, response._content = answer[0], answer[1].encode()
        assert request.url is not None  # prepared
        response.request, response.url = request, request.url
        return response

    def close(self) -> None:
        pass


def fake_session(monkeypatch, answers: list) -> FakeAdapter:
    adapter = FakeAdapter(answers)
    session = requests.Session()
    session.mount("http://", adapter)
    monkeypatch.setattr(sandbox_module, "notify_transport", HttpNotifyTransport(session=session))
    return adapter


@pytest.fixture
def order(mall_offer):
    return create_order("ann", mall_offer.goods_id)


def pay(order: PayOrder, notify_url: str = "http://mall.test/api/v1/alipay/alipay_notify_url") -> SandboxTrade:
    return sandbox_trade_pay(order_id=order.order_id, user=order.user, notify_url=notify_url)


def test_the_notify_is_a_signed_form_post_like_alipays(mall_offer, order, monkeypatch, tasks_run_inline):
    adapter = fake_session(monkeypatch, [(200, "success")])
    trade = pay(order)
    sandbox_notify_deliver.delay(trade.pk)
    (sent,) = adapter.sent
    assert sent.method == "POST" and sent.url == trade.notify_url
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    params = dict(parse_qsl(sent.body))
    assert params["out_trade_no"] == order.order_id
    assert (params["total_amount"], params["trade_status"], params["sign_type"]) == ("80.00", "TRADE_SUCCESS", "RSA2")
    assert params["app_id"] == "sandbox" and params["trade_no"] == trade.trade_no and len(trade.trade_no) == 28
    assert params["subject"] == mall_offer.sku.goods_name
    assert {"gmt_payment", "notify_time", "notify_id", "sign"} <= params.keys()
    assert sandbox_gateway().verify_notify(params)
    trade.refresh_from_db()
    assert (trade.notify_status, trade.notify_attempts) == (SandboxTrade.NotifyStatus.DELIVERED, 1)


def test_failed_attempts_are_retried_until_success(order, monkeypatch, tasks_run_inline):
    adapter = fake_session(
        monkeypatch,
        [requests.ConnectionError("refused"), requests.Timeout("slow"), (200, "fail"), (500, "oops"), (200, "success")],
    )
    trade = pay(order)
    sandbox_notify_deliver.delay(trade.pk)
    assert len(adapter.sent) == 5
    trade.refresh_from_db()
    assert (trade.notify_status, trade.notify_attempts, trade.last_error) == (
        SandboxTrade.NotifyStatus.DELIVERED,
        5,
        "",
    )
    again = sandbox_notify_deliver.delay(trade.pk)  # delivered: never sent again
    assert again.result is True and len(adapter.sent) == 5


def test_the_gateway_gives_up_after_the_retries(order, monkeypatch, tasks_run_inline, settings):
    settings.SANDBOX_NOTIFY_MAX_RETRIES = 3
    adapter = fake_session(monkeypatch, [(200, "fail")] * 4)
    trade = pay(order)
    sandbox_notify_deliver.delay(trade.pk)
    assert len(adapter.sent) == 4
    trade.refresh_from_db()
    assert (trade.notify_status, trade.notify_attempts) == (SandboxTrade.NotifyStatus.FAILED, 4)
    assert "fail" in trade.last_error


def test_retries_back_off_exponentially():
    assert [notify_retry_countdown(n) for n in range(5)] == [5, 10, 20, 40, 80]


def test_delivery_through_the_real_handler_pays_the_order(order, notify_via_test_client, tasks_run_inline):
    trade = pay(order, notify_url="http://testserver/api/v1/alipay/alipay_notify_url")
    sandbox_notify_deliver.delay(trade.pk)
    order.refresh_from_db()
    assert (order.status, order.trade_no) == (PayOrder.Status.PAY_SUCCESS, trade.trade_no)
    assert Order.objects.get(out_trade_no=order.order_id).status == Order.Status.PAID


def test_pay_is_recorded_once_and_sent_after_commit(order, django_capture_on_commit_callbacks, tasks_run_inline):
    with django_capture_on_commit_callbacks() as callbacks:
        first = pay(order)
        second = pay(order)
    assert first.pk == second.pk and len(callbacks) == 1
    assert SandboxTrade.objects.count() == 1


def test_only_a_waiting_order_before_its_deadline_is_payable(order):
    from datetime import timedelta

    from django.utils import timezone, translation

    from apps.common.errors import GroupBuyError

    with translation.override("en"):  # messages asserted in the source language (zh-Hans is the default)
        PayOrder.objects.filter(pk=order.pk).update(order_time=timezone.now() - timedelta(minutes=16))
        with pytest.raises(GroupBuyError, match="deadline"):
            pay(PayOrder.objects.get(pk=order.pk))
        PayOrder.objects.filter(pk=order.pk).update(status=PayOrder.Status.CLOSE)
        with pytest.raises(GroupBuyError, match="not waiting"):
            pay(PayOrder.objects.get(pk=order.pk))
    assert not SandboxTrade.objects.exists()


def test_only_the_owner_pays(order):
    with pytest.raises(PayOrder.DoesNotExist):
        sandbox_trade_pay(order_id=order.order_id, user=user("bob"), notify_url="http://x/")


def test_the_sandbox_page_shows_amount_product_qr_and_pay_button(mall_offer, order, client):
    login(client, "ann")
    html = client.get(f"/pay/sandbox/{order.order_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "¥80.00" in html and mall_offer.sku.goods_name in html
    assert f'data-qr-for="http://testserver/pay/sandbox/{order.order_id}"' in html and "<svg" in html
    assert "Pay ¥80.00" in html and "csrfmiddlewaretoken" in html


def test_the_pay_button_needs_the_csrf_token_and_the_owner(order):
    browser = login(Client(enforce_csrf_checks=True), "ann")
    assert browser.post(f"/pay/sandbox/{order.order_id}").status_code == 403
    other = login(Client(), "bob")
    assert other.get(f"/pay/sandbox/{order.order_id}").status_code == 404
    assert other.post(f"/pay/sandbox/{order.order_id}").status_code == 404
    assert not SandboxTrade.objects.exists()


def test_the_notify_url_is_the_configured_base_when_set(order, client, settings, django_capture_on_commit_callbacks):
    settings.PAYMENT_NOTIFY_BASE_URL = "https://shop.example.com/"
    login(client, "ann")
    with django_capture_on_commit_callbacks():  # not delivered here
        client.post(f"/pay/sandbox/{order.order_id}")
    assert SandboxTrade.objects.get().notify_url == "https://shop.example.com/api/v1/alipay/alipay_notify_url"


def test_the_sandbox_is_off_when_alipay_is_configured(order, client, alipay_settings):
    login(client, "ann")
    assert client.get(f"/pay/sandbox/{order.order_id}").status_code == 404


def test_a_worker_retries_later_with_the_backoff(order, monkeypatch):
    """Outside eager mode a failed attempt asks Celery for a delayed retry (here: captured)."""
    from celery.exceptions import Retry

    fake_session(monkeypatch, [(502, "bad gateway")])
    trade = pay(order)
    asked = {}

    def retry(**kwargs):
        asked.update(kwargs)
        return Retry("later", when=kwargs["countdown"])

    monkeypatch.setattr(sandbox_notify_deliver, "retry", retry)
    sandbox_notify_deliver.push_request(retries=2, is_eager=False)
    try:
        with pytest.raises(Retry):
            sandbox_notify_deliver(trade.pk)
    finally:
        sandbox_notify_deliver.pop_request()
    assert asked == {"countdown": 20}
    trade.refresh_from_db()
    assert (trade.notify_status, trade.notify_attempts) == (SandboxTrade.NotifyStatus.PENDING, 1)
