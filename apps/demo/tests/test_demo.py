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
    short_lived = {100128, 100131}  # and the auto-form offer, to show a team form at its deadline
    assert set(Activity.objects.exclude(activity_id__in=short_lived).values_list("valid_time", flat=True)) == {15}


def test_the_short_lived_offer_reminds_a_minute_before_the_end_also_after_a_reload():
    """In `make run` a team opened on 9890006 gets its "about to expire" message within a couple of minutes."""
    from apps.activities.models import Activity

    call_command("load_demo")
    assert Activity.objects.get(activity_id=100128).expiry_reminder_minutes == 1
    assert set(Activity.objects.exclude(activity_id=100128).values_list("expiry_reminder_minutes", flat=True)) == {5}
    Activity.objects.filter(activity_id=100128).update(expiry_reminder_minutes=0)
    call_command("load_demo")
    assert Activity.objects.get(activity_id=100128).expiry_reminder_minutes == 1


def test_each_growth_setting_has_a_demo_offer():
    """Leader discount, new customers only, auto-form threshold, take limit and formed-teams cap: one offer each."""
    from apps.activities.models import Activity
    from apps.activities.selectors import activity_config
    from apps.trade.timeouts import auto_form_reached

    call_command("load_demo")

    def trial(goods_id: str):
        return trial_calculate(TrialRequest(user_id="demo1", source="s01", channel="c01", goods_id=goods_id))

    leader = trial("9890007")
    assert (leader.pay_price, leader.leader_pay_price) == (Decimal("70.00"), Decimal("65.00"))
    assert trial("9890008").pay_price == Decimal("9.90") and activity_config(activity_id=100130).new_customers_only
    auto_form = activity_config(activity_id=100131)
    assert trial("9890009").pay_price == Decimal("30.00") and auto_form.group_type == Activity.GroupType.AUTO_FORM
    assert auto_form_reached(complete_count=2, target_count=3, percent=auto_form.auto_form_percent)
    assert not auto_form_reached(complete_count=1, target_count=3, percent=auto_form.auto_form_percent)
    limited = activity_config(activity_id=100132)
    assert trial("9890010").pay_price == Decimal("150.00")
    assert (limited.take_limit_count, limited.max_teams_formed) == (2, 5)
    plain = Activity.objects.exclude(activity_id__in=[100129, 100130, 100131, 100132])
    assert not plain.filter(leader_discount__isnull=False).exists() and not plain.filter(new_customers_only=True)
