"""Trial through its service entry point: prices, switches, tags, cache and fallbacks."""

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.accounts.tests.factories import StaffFactory
from apps.activities.models import Activity, Discount
from apps.activities.selectors import sku_key
from apps.activities.tests.factories import ScSkuActivityFactory
from apps.activities.trial import TrialRequest, cut_range_bucket, java_string_hash, trial_calculate
from apps.common.cache import local_peek
from apps.common.errors import GroupBuyError
from apps.common.tree import Loader, parallel_load
from apps.tags.bitmap import tag_bitmap_key
from apps.tags.models import CrowdTag
from apps.tags.tests.factories import CrowdTagFactory

pytestmark = pytest.mark.django_db

TAG = "RQ_KJHKL98UU78H66554GFDV"


def trial(goods_id: str, user_id: str | None = "demo1", source: str = "s01", channel: str = "c01"):
    return trial_calculate(TrialRequest(user_id=user_id, source=source, channel=channel, goods_id=goods_id))


def code_of(goods_id: str, **kwargs) -> str:
    with pytest.raises(GroupBuyError) as caught:
        trial(goods_id, **kwargs)
    return caught.value.code


@pytest.mark.parametrize(
    ("goods_id", "pay", "deduction"),
    [("9890001", "80.00", "20.00"), ("9890002", "110.00", "10.00"), ("9890003", "72.00", "18.00"),
     ("9890004", "1.99", "48.01"), ("9890005", "70.00", "30.00")],
)  # fmt: skip
def test_demo_prices(demo, goods_id, pay, deduction):
    result = trial(goods_id, user_id="xiaofuge")
    assert (result.pay_price, result.deduction_price) == (Decimal(pay), Decimal(deduction))
    assert result.original_price == result.pay_price + result.deduction_price


# Values printed by Java 17: `s.hashCode()` and `Math.abs(s.hashCode()) % 100`.
@pytest.mark.parametrize(
    ("text", "java_hash", "bucket"),
    [("xiaofuge", 265141580, 80), ("liergou", 168984931, 31), ("demo1", 95469230, 30), ("拼团用户", 777233397, 97),
     ("polygenelubricants", -2147483648, -48), ("", 0, 0), ("a😀b", 57849694, 94)],
)  # fmt: skip
def test_cut_range_uses_javas_string_hash(text, java_hash, bucket):
    assert java_string_hash(text) == java_hash
    assert cut_range_bucket(text) == bucket


def test_downgrade_switch_answers_e0003(demo, set_dcc):
    set_dcc("downgradeSwitch", "1")
    assert code_of("9890001") == "E0003"


def test_cut_range_lets_only_low_buckets_through(demo, set_dcc):
    set_dcc("cutRange", "30")
    assert trial("9890001", user_id="demo1").pay_price == Decimal("80.00")  # bucket 30
    assert code_of("9890001", user_id="demo2") == "E0004"  # bucket 31
    assert code_of("9890001", user_id="xiaofuge") == "E0004"  # bucket 80


def test_unknown_or_unmapped_goods_is_e0002(demo):
    assert code_of("nope") == "E0002"
    assert code_of("9890002", source="s02", channel="c02") == "E0002"  # not mapped on that channel
    assert trial("9890001", source="s02", channel="c02").pay_price == Decimal("80.00")


def test_a_plan_without_calculator_is_e0001(demo, monkeypatch):
    from apps.activities import discounts

    monkeypatch.delitem(discounts.discount_strategies._items, "ZJ")
    assert code_of("9890001") == "E0001"


def test_tag_scope_restricts_non_members(demo):
    member = trial("9890005", user_id="xiaofuge")
    outsider = trial("9890005", user_id="demo1")
    assert (member.is_visible, member.is_enable) == (True, True)
    assert (outsider.is_visible, outsider.is_enable) == (False, False)


def test_scope_2_restricts_joining_only(demo):
    Activity.objects.filter(activity_id=100127).update(tag_scope="2")
    outsider = trial("9890005", user_id="demo1")
    assert (outsider.is_visible, outsider.is_enable) == (True, False)


def test_a_tag_without_members_restricts_nobody(demo):
    from apps.tags.models import CrowdTagDetail
    from apps.tags.services import crowd_tag_rebuild_bitmap

    CrowdTagDetail.objects.filter(tag_id=TAG).delete()
    crowd_tag_rebuild_bitmap(tag=CrowdTag.objects.get(tag_id=TAG))
    outsider = trial("9890005", user_id="demo1")
    assert (outsider.is_visible, outsider.is_enable) == (True, True)


def test_a_lost_bitmap_falls_back_to_the_members_and_is_rebuilt(
    demo, django_capture_on_commit_callbacks, tasks_run_inline
):
    from apps.common.redis import get_redis
    from apps.tags.bitmap import bitmap_contains

    get_redis().delete(tag_bitmap_key(TAG))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        outsider = trial("9890005", user_id="demo1")
        member = trial("9890005", user_id="xiaofuge")
    assert (outsider.is_visible, outsider.is_enable) == (False, False)
    assert (member.is_visible, member.is_enable) == (True, True)
    assert len(callbacks) == 1  # one rebuild queued, however many trials noticed
    assert tasks_run_inline == [("apps.tags.tasks.rebuild_crowd_tag_bitmap", (TAG,))]
    assert bitmap_contains(TAG, "xiaofuge")


def test_tag_only_discount_applies_to_members_only(demo):
    Discount.objects.filter(discount_id="25120201").update(discount_type=1, tag_id=TAG)
    assert trial("9890001", user_id="liergou").pay_price == Decimal("80.00")
    assert trial("9890001", user_id="demo1").pay_price == Decimal("100.00")
    assert trial("9890001", user_id=None).pay_price == Decimal("100.00")


def test_anonymous_trial_skips_cut_range(demo, set_dcc):
    set_dcc("cutRange", "0")
    assert trial("9890001", user_id=None).pay_price == Decimal("80.00")


def test_warm_trial_makes_no_sql_query(demo, django_assert_num_queries):
    trial("9890003")  # warms the cache
    with django_assert_num_queries(0):
        assert trial("9890003").pay_price == Decimal("72.00")


def test_cache_switch_off_reads_the_database(demo, django_assert_max_num_queries, django_assert_num_queries, set_dcc):
    set_dcc("cacheOpenSwitch", "1")
    trial("9890003")
    with django_assert_max_num_queries(3):
        trial("9890003")
    set_dcc("cacheOpenSwitch", "0")
    trial("9890003")
    with django_assert_num_queries(0):
        trial("9890003")


def test_admin_edit_invalidates_the_cached_configuration(demo, client, django_capture_on_commit_callbacks):
    assert trial("9890001").pay_price == Decimal("80.00")
    client.force_login(StaffFactory())
    discount = Discount.objects.get(discount_id="25120201")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:activities_discount_change", args=[discount.pk]),
            {"discount_id": "25120201", "discount_name": "ZJ 25", "discount_desc": "", "discount_type": "0",
             "market_plan": "ZJ", "market_expr": "25", "tag": ""},
        )  # fmt: skip
    assert response.status_code == 302
    assert trial("9890001").pay_price == Decimal("75.00")


def test_an_edit_invalidates_only_once_it_commits(demo, django_capture_on_commit_callbacks):
    # Busting before the commit would let a concurrent read re-cache the old row meanwhile.
    assert trial("9890001").pay_price == Decimal("80.00")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        discount = Discount.objects.get(discount_id="25120201")
        discount.market_expr = "25"
        discount.save()
    assert trial("9890001").pay_price == Decimal("80.00")  # not committed yet: the cache holds the old row
    for callback in callbacks:
        callback()
    assert trial("9890001").pay_price == Decimal("75.00")


def test_remapping_a_sku_invalidates_the_mapping(demo, django_capture_on_commit_callbacks):
    trial("9890001")
    other = ScSkuActivityFactory(source="s01", channel="c09").activity  # a second activity
    Activity.objects.filter(pk=other.pk).update(discount_id="25120203")  # ZK 0.8
    from apps.activities.models import ScSkuActivity

    mapping = ScSkuActivity.objects.get(source="s01", channel="c01", sku_id="9890001")
    mapping.activity = other
    with django_capture_on_commit_callbacks(execute=True):
        mapping.save()
    assert trial("9890001").pay_price == Decimal("80.00")  # ZK 0.8 of 100.00
    assert trial("9890001").activity_id == other.activity_id


def test_redis_unreachable_falls_back_to_the_database(demo, redis_down, caplog):
    result = trial("9890003", user_id="xiaofuge")
    assert result.pay_price == Decimal("72.00")
    assert any("reading the database" in record.getMessage() for record in caplog.records)


def test_unknown_tag_activity_and_discount_tag_combination(demo):
    # A discount restricted to a tag nobody is in yet: everyone pays the original price.
    tag = CrowdTagFactory()
    Discount.objects.filter(discount_id="25120202").update(discount_type=1, tag_id=tag.tag_id)
    assert trial("9890002", user_id="xiaofuge").pay_price == Decimal("120.00")


def test_a_warm_trial_needs_neither_redis_nor_the_database(demo, take_redis_down, django_assert_num_queries, caplog):
    trial("9890003")
    trial("9890003")  # the first read came from the database; this one from Redis, now held in memory
    take_redis_down()
    with django_assert_num_queries(0):
        assert trial("9890003").pay_price == Decimal("72.00")
    assert not any("reading the database" in record.getMessage() for record in caplog.records)


def test_parallel_load_takes_what_memory_has_and_fetches_only_the_rest(demo):
    trial("9890001")
    trial("9890001")  # sku 9890001 now in memory
    fetched = []

    def fetch(name):
        def run():
            fetched.append(name)
            return name

        return run

    loaded = parallel_load(
        {
            "sku": Loader(fetch=fetch("sku"), peek=lambda: local_peek(sku_key("9890001"))),
            "other": Loader(fetch=fetch("other"), peek=lambda: local_peek("never-cached")),
            "plain": fetch("plain"),
        },
        threads=2,
        timeout=2,
    )
    assert loaded["sku"].goods_id == "9890001"
    assert loaded["other"] == "other" and loaded["plain"] == "plain"
    assert sorted(fetched) == ["other", "plain"]
