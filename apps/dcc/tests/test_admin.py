"""The DCC admin: every registered key on one page, edits and the blacklist form through the service."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils.html import escape

from apps.accounts.tests.factories import StaffFactory, UserFactory
from apps.channels.tests.factories import ChannelCredentialFactory
from apps.dcc.keys import DCC_KEYS
from apps.dcc.models import DccChange, DccValue
from apps.dcc.runtime import dcc_get

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
CHANGELIST = reverse("admin:dcc_dccvalue_changelist")
BLACKLIST = reverse("admin:dcc_dccvalue_blacklist")


@pytest.fixture
def staff(client):
    user = StaffFactory()
    client.force_login(user)
    return user


def test_changelist_lists_every_key_with_default_and_description_without_any_row(client, staff):
    assert not DccValue.objects.exists()
    page = client.get(CHANGELIST, **EN)
    assert page.status_code == 200
    html = page.content.decode()
    for name, definition in DCC_KEYS.items():
        assert f'id="dcc-{name}"' in html
        assert escape(str(definition.description)) in html
        assert f"<code>{definition.default}</code>" in html
    assert html.count("(default)") == len(DCC_KEYS)


def test_editing_a_key_is_audited_and_changes_the_effective_value(client, staff, django_capture_on_commit_callbacks):
    url = reverse("admin:dcc_dccvalue_key", args=["cutRange"])
    assert client.get(url, **EN).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"value": "40"}, **EN)
    assert response.status_code == 302
    assert response["Location"] == CHANGELIST
    change = DccChange.objects.get()
    assert (change.key, change.old_value, change.new_value, change.changed_by, change.via) == (
        "cutRange", "100", "40", staff, "admin",
    )  # fmt: skip
    assert dcc_get("cutRange") == 40
    html = client.get(CHANGELIST, **EN).content.decode()
    row = html.split('id="dcc-cutRange"')[1].split("</tr>")[0]
    assert "<strong>40</strong>" in row
    assert "(default)" not in row
    assert staff.username in row


def test_a_bad_value_is_refused_on_the_form(client, staff):
    response = client.post(reverse("admin:dcc_dccvalue_key", args=["cutRange"]), {"value": "500"}, **EN)
    assert response.status_code == 200
    assert "less than or equal to 100" in response.content.decode()
    assert not DccChange.objects.exists()
    assert client.get(reverse("admin:dcc_dccvalue_key", args=["nope"])).status_code == 404


def test_blacklist_form_adds_and_removes_pairs(client, staff, django_capture_on_commit_callbacks):
    ChannelCredentialFactory(source="s03", channel="c01", name="Mall three")
    ChannelCredentialFactory(source="s02", channel="c02")
    page = client.get(BLACKLIST, **EN).content.decode()
    assert "s03 / c01 (Mall three)" in page
    assert 'name="remove" value="s02c02"' in page  # the default entry, listed
    assert 'name="add" value="s02c02"' not in page  # already listed: not offered again

    with django_capture_on_commit_callbacks(execute=True):
        added = client.post(BLACKLIST, {"add": ["s03c01"]}, **EN)
    assert added.status_code == 302
    assert DccValue.objects.get(key="scBlacklist").value == "s02c02,s03c01"
    assert dcc_get("scBlacklist") == frozenset({"s02c02", "s03c01"})

    with django_capture_on_commit_callbacks(execute=True):
        client.post(BLACKLIST, {"remove": ["s02c02"]}, **EN)
    assert DccValue.objects.get(key="scBlacklist").value == "s03c01"
    assert dcc_get("scBlacklist") == frozenset({"s03c01"})
    assert list(DccChange.objects.order_by("id").values_list("new_value", "changed_by", "via")) == [
        ("s02c02,s03c01", staff.pk, "admin"),
        ("s03c01", staff.pk, "admin"),
    ]


def test_view_only_staff_see_the_keys_but_cannot_change_them(client):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_dccvalue"))
    client.force_login(viewer)
    html = client.get(CHANGELIST, **EN).content.decode()
    assert 'id="dcc-cutRange"' in html
    assert reverse("admin:dcc_dccvalue_key", args=["cutRange"]) not in html
    assert client.post(reverse("admin:dcc_dccvalue_key", args=["cutRange"]), {"value": "1"}).status_code == 403
    assert client.post(BLACKLIST, {"remove": ["s02c02"]}).status_code == 403
    assert not DccChange.objects.exists()
