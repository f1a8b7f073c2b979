import pytest
from django.urls import reverse

from apps.accounts.tests.factories import StaffFactory
from apps.common.errors import GroupBuyError
from apps.dcc.models import DccChange, DccValue
from apps.dcc.selectors import dcc_stored_values
from apps.dcc.services import dcc_update

pytestmark = pytest.mark.django_db


def test_defaults_until_changed_then_audited():
    staff = StaffFactory()
    assert dcc_stored_values()["cutRange"] == "100"
    dcc_update(key="cutRange", value=" 40 ", changed_by=staff, via="api")
    assert dcc_stored_values()["cutRange"] == "40"
    change = DccChange.objects.get()
    assert (change.key, change.old_value, change.new_value, change.changed_by, change.via) == (
        "cutRange", "100", "40", staff, "api",
    )  # fmt: skip


def test_setting_the_same_value_again_writes_no_audit_row():
    dcc_update(key="downgradeSwitch", value="1", changed_by=None, via="api")
    dcc_update(key="downgradeSwitch", value="1", changed_by=None, via="api")
    assert DccChange.objects.count() == 1


@pytest.mark.parametrize(
    ("key", "value"),
    [("cutRange", "101"), ("cutRange", "ten"), ("downgradeSwitch", "2"), ("scBlacklist", "s01;c01"), ("nope", "1")],
)
def test_bad_values_are_refused_with_0002(key, value):
    with pytest.raises(GroupBuyError) as caught:
        dcc_update(key=key, value=value, changed_by=None, via="api")
    assert caught.value.code == "0002"
    assert not DccValue.objects.exists()


def test_blacklist_is_normalized():
    dcc_update(key="scBlacklist", value="s03c01, s02c02,,", changed_by=None, via="api")
    assert dcc_stored_values()["scBlacklist"] == "s02c02,s03c01"


def test_admin_edit_goes_through_the_audit(client):
    staff = StaffFactory()
    client.force_login(staff)
    response = client.post(reverse("admin:dcc_dccvalue_add"), {"key": "lockTimeoutMinutes", "value": "30"})
    assert response.status_code == 302
    assert DccValue.objects.get(key="lockTimeoutMinutes").value == "30"
    assert DccChange.objects.get().changed_by == staff

    refused = client.post(
        reverse("admin:dcc_dccvalue_add"), {"key": "cutRange", "value": "500"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert refused.status_code == 200
    assert "between 0 and 100" in refused.content.decode()


def test_config_api_lists_every_key(client):
    client.force_login(StaffFactory())
    body = client.get("/api/v1/gbm/dcc/config").json()
    assert body["code"] == "0000"
    assert body["data"]["scBlacklist"] == "s02c02"
    assert len(body["data"]) == 8
