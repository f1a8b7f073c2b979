from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command

from apps.activities.trial import TrialRequest, trial_calculate
from apps.tags.bitmap import bitmap_contains

pytestmark = pytest.mark.django_db(transaction=True)

DEMO_APPS = ["accounts", "channels", "tags", "activities", "dcc"]


def _snapshot() -> dict:
    rows = {}
    for label in DEMO_APPS:
        for model in apps.get_app_config(label).get_models():
            rows[model._meta.label] = sorted(map(repr, model._default_manager.order_by("pk").values()))
    return rows


def test_load_demo_twice_changes_nothing():
    call_command("load_demo")
    first = _snapshot()
    call_command("load_demo")
    assert _snapshot() == first


def test_demo_prices_match_the_spec():
    call_command("load_demo")
    prices = {
        goods_id: trial_calculate(TrialRequest(user_id=None, source="s01", channel="c01", goods_id=goods_id)).pay_price
        for goods_id in ["9890001", "9890002", "9890003", "9890004", "9890005"]
    }
    assert prices == {
        "9890001": Decimal("80.00"),
        "9890002": Decimal("110.00"),
        "9890003": Decimal("72.00"),
        "9890004": Decimal("1.99"),
        "9890005": Decimal("70.00"),
    }
    s02 = TrialRequest(user_id=None, source="s02", channel="c02", goods_id="9890001")
    assert trial_calculate(s02).pay_price == Decimal("80.00")


def test_demo_tag_bitmap_is_built_at_load():
    call_command("load_demo")
    assert bitmap_contains("RQ_KJHKL98UU78H66554GFDV", "xiaofuge")
    assert bitmap_contains("RQ_KJHKL98UU78H66554GFDV", "liergou")
    assert not bitmap_contains("RQ_KJHKL98UU78H66554GFDV", "demo1")


def test_demo_logins_work(client):
    call_command("load_demo")
    assert client.login(username="admin", password="admin")
    assert client.login(username="demo9", password="demo")


def test_rebuild_redis_restores_bitmaps_after_a_redis_wipe():
    from apps.common.redis import get_redis

    call_command("load_demo")
    get_redis().flushdb()
    assert not bitmap_contains("RQ_KJHKL98UU78H66554GFDV", "xiaofuge")
    call_command("rebuild_redis")
    assert bitmap_contains("RQ_KJHKL98UU78H66554GFDV", "xiaofuge")


def test_load_demo_refuses_where_demo_data_is_not_allowed(settings):
    from django.contrib.auth import get_user_model
    from django.core.management.base import CommandError

    settings.DEMO_DATA_ALLOWED = False  # production without GBM_ALLOW_DEMO_DATA=1
    with pytest.raises(CommandError, match="Refusing to load the demo data under production settings"):
        call_command("load_demo")
    assert not get_user_model().objects.filter(username="admin").exists()


def test_the_short_lived_offer_expires_its_teams_in_two_minutes():
    """The 6th offer lets a newcomer see a team fail and refund within minutes of `make run`."""
    from apps.activities.models import Activity

    call_command("load_demo")
    trial = trial_calculate(TrialRequest(user_id=None, source="s01", channel="c01", goods_id="9890006"))
    assert (trial.pay_price, trial.activity.activity_id) == (Decimal("20.00"), 100128)
    assert Activity.objects.get(activity_id=100128).valid_time == 2
    assert set(Activity.objects.exclude(activity_id=100128).values_list("valid_time", flat=True)) == {15}


def test_the_short_lived_offer_reminds_a_minute_before_the_end_also_after_a_reload():
    """In `make run` a team opened on 9890006 gets its "about to expire" message within a couple of minutes."""
    from apps.activities.models import Activity

    call_command("load_demo")
    assert Activity.objects.get(activity_id=100128).expiry_reminder_minutes == 1
    assert set(Activity.objects.exclude(activity_id=100128).values_list("expiry_reminder_minutes", flat=True)) == {5}
    Activity.objects.filter(activity_id=100128).update(expiry_reminder_minutes=0)
    call_command("load_demo")
    assert Activity.objects.get(activity_id=100128).expiry_reminder_minutes == 1
