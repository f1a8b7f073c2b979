"""Fixtures of the accounts tests: a known WeChat token, the device middleware, a phone with a token."""

import pytest
from rest_framework.test import APIClient

from apps.accounts.tests.factories import UserFactory
from apps.accounts.tests.helpers import DEVICE_MIDDLEWARE, WEIXIN_TOKEN


@pytest.fixture(autouse=True)
def _weixin_token(settings):
    settings.WEIXIN_TOKEN = WEIXIN_TOKEN


@pytest.fixture
def device_middleware(settings):
    """The seamless-login middleware where it belongs: right after AuthenticationMiddleware."""
    middleware = list(settings.MIDDLEWARE)
    if DEVICE_MIDDLEWARE not in middleware:
        middleware.insert(
            middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1, DEVICE_MIDDLEWARE
        )
    settings.MIDDLEWARE = middleware


@pytest.fixture
def mobile(db):
    """A phone: a user with an API token."""
    user = UserFactory(username="phone-user")
    client = APIClient()
    token = client.post("/api/v1/login/token", {"username": user.username, "password": "pw"}, format="json")
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['data']['token']}")
    client.user = user
    return client
