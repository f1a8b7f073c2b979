"""Fixtures of the accounts tests: a known WeChat token, the device middleware, a phone with a token,
the signed test endpoint and its channel, a fresh nonce store state."""

import pytest
from rest_framework.test import APIClient

from apps.accounts.tests.factories import ChannelCredentialFactory, UserFactory
from apps.accounts.tests.helpers import CHANNEL_SECRET, DEVICE_MIDDLEWARE, WEIXIN_TOKEN


@pytest.fixture(autouse=True)
def _weixin_token(settings):
    settings.WEIXIN_TOKEN = WEIXIN_TOKEN


@pytest.fixture
def signed_urls(settings, client):
    """The project's URLs plus the test-only signed endpoint; messages in the source language."""
    settings.ROOT_URLCONF = "apps.accounts.tests.urls_signed"
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def credential(db):
    """The channel s01/c01 signing with ``CHANNEL_SECRET``."""
    return ChannelCredentialFactory(source="s01", channel="c01", secret=CHANNEL_SECRET)


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
