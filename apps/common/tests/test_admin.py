"""The back office: every model reachable, nonsense refused with a message, secrets hidden."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from apps.accounts.tests.factories import StaffFactory
from apps.activities.models import Discount
from apps.activities.tests.factories import ActivityFactory, DiscountFactory, ScSkuActivityFactory
from apps.channels.models import ChannelCredential
from apps.channels.tests.factories import ChannelCredentialFactory
from apps.trade.tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

EXPECTED_MODELS = {
    "accounts.user", "channels.channelcredential", "activities.sku", "activities.discount",
    "activities.activity", "activities.scskuactivity", "tags.crowdtag", "tags.crowdtagdetail",
    "tags.crowdtagjob", "trade.team", "trade.order", "payments.payorder", "payments.refundrecord",
    "notifications.notifytask", "dcc.dccvalue", "dcc.dccchange", "channels.signaturenonce",
}  # fmt: skip


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory())
    return client


def test_every_domain_model_is_in_admin_and_its_list_opens(staff_client):
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert registered >= EXPECTED_MODELS
    OrderFactory()  # a team and an order, so the lists render rows
    for label in EXPECTED_MODELS:
        app_label, model_name = label.split(".")
        response = staff_client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
        assert response.status_code == 200, label


def test_admin_index_lists_models(staff_client):
    response = staff_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    for name in [b"Teams", b"Orders", b"Notify tasks", b"Discounts", b"Activities", b"Crowd tags"]:
        assert name in response.content


def _discount_form(**overrides):
    data = {
        "discount_id": "D-NEW",
        "discount_name": "new",
        "discount_desc": "",
        "discount_type": "0",
        "market_plan": "MJ",
        "market_expr": "100,10",
        "tag": "",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("plan", "expr", "message"),
    [
        ("ZJ", "-5", "greater than 0"),
        ("ZJ", "abc", "is not a number"),
        ("MJ", "100", "threshold,minus"),
        ("MJ", "10,20", "less than the threshold"),
        ("ZK", "1.5", "at most 1"),
        ("ZK", "0", "at most 1"),
        ("N", "0", "greater than 0"),
    ],
)
def test_discount_expression_must_fit_its_plan(staff_client, plan, expr, message):
    url = reverse("admin:activities_discount_add")
    response = staff_client.post(url, _discount_form(market_plan=plan, market_expr=expr), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200  # form redisplayed
    assert message in response.content.decode()
    assert not Discount.objects.filter(discount_id="D-NEW").exists()


def test_valid_discount_is_saved(staff_client):
    response = staff_client.post(reverse("admin:activities_discount_add"), _discount_form())
    assert response.status_code == 302
    assert Discount.objects.get(discount_id="D-NEW").market_expr == "100,10"


def _activity_form(discount, **overrides):
    now = timezone.localtime()
    data = {
        "activity_id": "900001",
        "activity_name": "new",
        "discount": discount.discount_id,
        "group_type": "1",
        "take_limit_count": "1",
        "target": "3",
        "valid_time": "15",
        "status": "1",
        "start_time_0": now.strftime("%Y-%m-%d"),
        "start_time_1": "00:00:00",
        "end_time_0": (now + timedelta(days=3)).strftime("%Y-%m-%d"),
        "end_time_1": "00:00:00",
        "tag": "",
        "tag_scope": "",
        "leader_discount": "",
        "auto_form_percent": "0",
        "max_teams_formed": "",
        "expiry_reminder_minutes": "5",
        "channel_skus-TOTAL_FORMS": "0",
        "channel_skus-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"end_time_0": "2000-01-01"}, "end time must be after the start time"),
        ({"target": "0"}, "greater than or equal to 1"),
        ({"valid_time": "0"}, "greater than or equal to 1"),
        ({"auto_form_percent": "101"}, "less than or equal to 100"),
        ({"max_teams_formed": "0"}, "greater than or equal to 1"),
    ],
)
def test_activity_nonsense_is_refused(staff_client, overrides, message):
    discount = DiscountFactory()
    response = staff_client.post(
        reverse("admin:activities_activity_add"), _activity_form(discount, **overrides), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    assert message in response.content.decode()


def test_valid_activity_is_saved(staff_client):
    discount = DiscountFactory()
    response = staff_client.post(reverse("admin:activities_activity_add"), _activity_form(discount))
    assert response.status_code == 302, response.content.decode()[:2000]


def test_sku_cannot_map_to_two_activities_on_one_channel(staff_client):
    mapping = ScSkuActivityFactory()
    other = ActivityFactory()
    response = staff_client.post(
        reverse("admin:activities_scskuactivity_add"),
        {"source": "s01", "channel": "c01", "sku": mapping.sku.goods_id, "activity": other.activity_id},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "already mapped to an activity" in response.content.decode()


def test_channel_secret_is_never_shown_after_saving(staff_client):
    secret = "very-secret-value-1234567890"
    response = staff_client.post(
        reverse("admin:channels_channelcredential_add"),
        {"source": "s09", "channel": "c09", "name": "", "new_secret": secret, "signature_required": "on",
         "enabled": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    credential = ChannelCredential.objects.get(source="s09")
    assert credential.secret == secret
    change_page = staff_client.get(reverse("admin:channels_channelcredential_change", args=[credential.pk]))
    listing = staff_client.get(reverse("admin:channels_channelcredential_changelist"))
    for page in (change_page, listing):
        assert secret not in page.content.decode()
        assert credential.masked_secret in page.content.decode()


def test_blank_secret_on_edit_keeps_the_old_one(staff_client):
    credential = ChannelCredentialFactory(secret="old-secret-abcdefghijkl")
    response = staff_client.post(
        reverse("admin:channels_channelcredential_change", args=[credential.pk]),
        {"source": credential.source, "channel": credential.channel, "name": "renamed", "new_secret": "",
         "enabled": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    credential.refresh_from_db()
    assert credential.secret == "old-secret-abcdefghijkl"
    assert credential.name == "renamed"
    assert credential.signature_required is False


def test_teams_orders_and_notify_tasks_are_read_only(staff_client):
    order = OrderFactory()
    for name in ("trade_team", "trade_order", "notifications_notifytask"):
        assert staff_client.get(reverse(f"admin:{name}_add")).status_code == 403
    change_url = reverse("admin:trade_order_change", args=[order.pk])
    page = staff_client.get(change_url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert staff_client.post(change_url, {"status": "1"}).status_code == 403
    order.refresh_from_db()
    assert order.status == 0
