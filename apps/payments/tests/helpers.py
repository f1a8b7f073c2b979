"""Helpers of the payments tests: users, logged-in clients, orders, signed notifies."""

from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.accounts.services import api_token_get_or_create
from apps.accounts.tests.factories import UserFactory
from apps.payments.gateways import sandbox_gateway
from apps.payments.gateways.sandbox import gateway_time
from apps.payments.models import PayOrder
from apps.payments.orders import mall_order_create

NOTIFY_URL = "/api/v1/alipay/alipay_notify_url"


def user(username: str) -> User:
    """The shopper ``username``: the demo's when the demo is loaded, else a new one."""
    return UserFactory.create(username=username)


def login(client: Client, username: str) -> Client:
    """``client`` logged in as the shopper ``username`` (how shoppers log in is tested in accounts)."""
    client.force_login(user(username))
    return client


def mobile_client(username: str) -> APIClient:
    """A mobile client of the shopper ``username`` with an API token (the token login is tested in accounts)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_get_or_create(user=user(username))}")
    return client


def create_order(username: str, goods_id: str = "9890001", team_id: str | None = None, **kwargs) -> PayOrder:
    return mall_order_create(user=user(username), goods_id=goods_id, team_id=team_id, **kwargs)


def notify_params(order: PayOrder, **overrides: str) -> dict[str, str]:
    """The sandbox's notify for ``order``, paid now (overrides applied before signing)."""
    now = gateway_time(timezone.now())
    params = {
        "app_id": sandbox_gateway().app_id,
        "gmt_payment": now,
        "notify_id": "n-" + order.order_id,
        "notify_time": now,
        "notify_type": "trade_status_sync",
        "out_trade_no": order.order_id,
        "subject": order.product_name,
        "total_amount": f"{order.pay_amount:.2f}",
        "trade_no": "T" + order.order_id,
        "trade_status": "TRADE_SUCCESS",
    }
    params.update(overrides)
    return sandbox_gateway().sign(params)
