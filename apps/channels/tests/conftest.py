"""Fixtures of the channel tests: the signed test endpoint and its channel."""

import pytest

from apps.channels.tests.factories import ChannelCredentialFactory
from apps.channels.tests.helpers import CHANNEL_SECRET


@pytest.fixture
def signed_urls(settings, client):
    """The project's URLs plus the test-only signed endpoint; messages in the source language."""
    settings.ROOT_URLCONF = "apps.channels.tests.urls_signed"
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def credential(db):
    """The channel s01/c01 signing with ``CHANNEL_SECRET``."""
    return ChannelCredentialFactory(source="s01", channel="c01", secret=CHANNEL_SECRET)
