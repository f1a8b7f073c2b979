import pytest

from apps.accounts.tests.factories import StaffFactory


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Uploaded CSVs land in a per-test directory, not in var/test-media."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory())
    return client


@pytest.fixture(autouse=True)
def _english():
    """Jobs and services run outside a request, in the default language (zh-Hans): the tests read English."""
    from django.utils import translation

    with translation.override("en"):
        yield
