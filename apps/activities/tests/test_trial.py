"""Trial through its service entry point: prices, switches, tags, cache and fallbacks."""

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.accounts.tests.factories import StaffFactory
from apps.activities.models import Activity, Discount, ScSkuActivity
from apps.activities.selectors import sku_key
from apps.activities.tests.factories import DiscountFactory, Offer, ScSkuActivityFactory, an_offer
from apps.activities.trial import TrialRequest, cut_range_bucket, java_string_hash, trial_calculate
from apps.channels.tests.factories import ChannelCredentialFactory
from apps.common.cache import local_peek
from apps.common.errors import GroupBuyError
from apps.common.tree import Loader, parallel_load
from apps.tags.bitmap import tag_bitmap_key
from apps.tags.models import CrowdTag
from apps.tags.services import crowd_tag_add_members
from apps.tags.tests.factories import CrowdTagFactory

pytestmark = pytest.mark.django_db


def trial(offer: Offer, user_id: str | None = "demo1", *, goods_id: str = "", source: str = "", channel: str = ""):
    """The trial of ``offer``'s goods (or ``goods_id``) in its channel (or ``source``/``channel``)."""
    return trial_calculate(
        TrialRequest(user_id=user_id, source=source or offer.source, channel=channel or offer.channel,
                     goods_id=goods_id or offer.goods_id)
    )  # fmt: skip


def code_of(offer: Offer, **kwargs) -> str:
    with pytest.raises(GroupBuyError) as caught:
        trial(offer, **kwargs)
    return caught.value.code


@pytest.fixture
def crowd() -> CrowdTag:
    """A crowd tag of xiaofuge and liergou."""
    tag = CrowdTagFactory.create()
    crowd_tag_add_members(tag=tag, user_ids=["xiaofuge", "liergou"])
    return tag


@pytest.fixture
def members_only(offer, crowd) -> Offer:
    """An offer (ZJ 30 off 100.00) only the crowd sees and joins."""
    return an_offer(credential=offer.credential, expr="30", members_only=crowd)


@pytest.fixture
def percentage(offer) -> Offer:
    """ZK 0.8 of 90.00: 72.00."""
    return an_offer(credential=offer.credential, price="90.00", plan=Discount.MarketPlan.ZK, expr="0.8")


@pytest.mark.parametrize(
    ("price", "plan", "expr", "pay", "deduction"),
    [("100.00", "ZJ", "20", "80.00", "20.00"), ("120.00", "MJ", "100,10", "110.00", "10.00"),
     ("90.00", "ZK", "0.8", "72.00", "18.00"), ("50.00", "N", "1.99", "1.99", "48.01"),
     ("100.00", "ZJ", "30", "70.00", "30.00")],
)  # fmt: skip
def test_prices_of_each_plan(db, price, plan, expr, pay, deduction):
    result = trial(an_offer(price=price, plan=plan, expr=expr), user_id="xiaofuge")
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


def test_downgrade_switch_answers_e0003(offer, set_dcc):
    set_dcc("downgradeSwitch", "1")
    assert code_of(offer) == "E0003"


def test_cut_range_lets_only_low_buckets_through(offer, set_dcc):
    set_dcc("cutRange", "30")
    assert trial(offer, user_id="demo1").pay_price == Decimal("80.00")  # bucket 30
    assert code_of(offer, user_id="demo2") == "E0004"  # bucket 31
    assert code_of(offer, user_id="xiaofuge") == "E0004"  # bucket 80


def test_unknown_or_unmapped_goods_is_e0002(offer):
    second = ChannelCredentialFactory.create()
    ScSkuActivityFactory.create(source=second.source, channel=second.channel, sku=offer.sku, activity=offer.activity)
    unmapped = an_offer(credential=offer.credential)
    assert code_of(offer, goods_id="nope") == "E0002"
    assert code_of(unmapped, source=second.source, channel=second.channel) == "E0002"  # not mapped on that channel
    assert trial(offer, source=second.source, channel=second.channel).pay_price == Decimal("80.00")


def test_a_plan_without_calculator_is_e0001(offer, monkeypatch):
    from apps.activities import discounts

    monkeypatch.delitem(discounts.discount_strategies._items, "ZJ")
    assert code_of(offer) == "E0001"


def test_tag_scope_restricts_non_members(members_only):
    member = trial(members_only, user_id="xiaofuge")
    outsider = trial(members_only, user_id="demo1")
    assert (member.is_visible, member.is_enable) == (True, True)
    assert (outsider.is_visible, outsider.is_enable) == (False, False)


def test_scope_2_restricts_joining_only(members_only):
    Activity.objects.filter(activity_id=members_only.activity_id).update(tag_scope="2")
    outsider = trial(members_only, user_id="demo1")
    assert (outsider.is_visible, outsider.is_enable) == (True, False)


def test_a_tag_without_members_restricts_nobody(members_only, crowd):
    from apps.tags.models import CrowdTagDetail
    from apps.tags.services import crowd_tag_rebuild_bitmap

    CrowdTagDetail.objects.filter(tag_id=crowd.tag_id).delete()
    crowd_tag_rebuild_bitmap(tag=CrowdTag.objects.get(tag_id=crowd.tag_id))
    outsider = trial(members_only, user_id="demo1")
    assert (outsider.is_visible, outsider.is_enable) == (True, True)


def test_a_lost_bitmap_falls_back_to_the_members_and_is_rebuilt(
    members_only, crowd, django_capture_on_commit_callbacks, tasks_run_inline
):
    from apps.common.redis import get_redis
    from apps.tags.bitmap import bitmap_contains

    get_redis().delete(tag_bitmap_key(crowd.tag_id))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        outsider = trial(members_only, user_id="demo1")
        member = trial(members_only, user_id="xiaofuge")
    assert (outsider.is_visible, outsider.is_enable) == (False, False)
    assert (member.is_visible, member.is_enable) == (True, True)
    assert len(callbacks) == 1  # one rebuild queued, however many trials noticed
    assert tasks_run_inline == [("apps.tags.tasks.rebuild_crowd_tag_bitmap", (crowd.tag_id,))]
    assert bitmap_contains(crowd.tag_id, "xiaofuge")


def test_tag_only_discount_applies_to_members_only(offer, crowd):
    Discount.objects.filter(pk=offer.activity.discount.pk).update(discount_type=1, tag_id=crowd.tag_id)
    assert trial(offer, user_id="liergou").pay_price == Decimal("80.00")
    assert trial(offer, user_id="demo1").pay_price == Decimal("100.00")
    assert trial(offer, user_id=None).pay_price == Decimal("100.00")


def test_anonymous_trial_skips_cut_range(offer, set_dcc):
    set_dcc("cutRange", "0")
    assert trial(offer, user_id=None).pay_price == Decimal("80.00")


def test_warm_trial_makes_no_sql_query(percentage, django_assert_num_queries):
    trial(percentage)  # warms the cache
    with django_assert_num_queries(0):
        assert trial(percentage).pay_price == Decimal("72.00")


def test_cache_switch_off_reads_the_database(
    percentage, django_assert_max_num_queries, django_assert_num_queries, set_dcc
):
    set_dcc("cacheOpenSwitch", "1")
    trial(percentage)
    with django_assert_max_num_queries(3):
        trial(percentage)
    set_dcc("cacheOpenSwitch", "0")
    trial(percentage)
    with django_assert_num_queries(0):
        trial(percentage)


def test_admin_edit_invalidates_the_cached_configuration(offer, client, django_capture_on_commit_callbacks):
    assert trial(offer).pay_price == Decimal("80.00")
    client.force_login(StaffFactory())
    discount = offer.activity.discount
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:activities_discount_change", args=[discount.pk]),
            {"discount_id": discount.discount_id, "discount_name": "ZJ 25", "discount_desc": "", "discount_type": "0",
             "market_plan": "ZJ", "market_expr": "25", "tag": ""},
        )  # fmt: skip
    assert response.status_code == 302
    assert trial(offer).pay_price == Decimal("75.00")


def test_an_edit_invalidates_only_once_it_commits(offer, django_capture_on_commit_callbacks):
    # Busting before the commit would let a concurrent read re-cache the old row meanwhile.
    assert trial(offer).pay_price == Decimal("80.00")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        discount = Discount.objects.get(pk=offer.activity.discount.pk)
        discount.market_expr = "25"
        discount.save()
    assert trial(offer).pay_price == Decimal("80.00")  # not committed yet: the cache holds the old row
    for callback in callbacks:
        callback()
    assert trial(offer).pay_price == Decimal("75.00")


def test_remapping_a_sku_invalidates_the_mapping(offer, django_capture_on_commit_callbacks):
    trial(offer)
    other = ScSkuActivityFactory(source=offer.source, channel="c09").activity  # a second activity
    Activity.objects.filter(pk=other.pk).update(discount=DiscountFactory(market_plan="ZK", market_expr="0.8"))
    mapping = ScSkuActivity.objects.get(**offer.in_channel, sku=offer.sku)
    mapping.activity = other
    with django_capture_on_commit_callbacks(execute=True):
        mapping.save()
    assert trial(offer).pay_price == Decimal("80.00")  # ZK 0.8 of 100.00
    assert trial(offer).activity_id == other.activity_id


def test_redis_unreachable_falls_back_to_the_database(percentage, redis_down, caplog):
    result = trial(percentage, user_id="xiaofuge")
    assert result.pay_price == Decimal("72.00")
    assert any("reading the database" in record.getMessage() for record in caplog.records)


def test_unknown_tag_activity_and_discount_tag_combination(db):
    # A discount restricted to a tag nobody is in yet: everyone pays the original price.
    spend_more = an_offer(price="120.00", plan=Discount.MarketPlan.MJ, expr="100,10")
    tag = CrowdTagFactory()
    Discount.objects.filter(pk=spend_more.activity.discount.pk).update(discount_type=1, tag_id=tag.tag_id)
    assert trial(spend_more, user_id="xiaofuge").pay_price == Decimal("120.00")


def test_a_warm_trial_needs_neither_redis_nor_the_database(
    percentage, take_redis_down, django_assert_num_queries, caplog
):
    trial(percentage)
    trial(percentage)  # the first read came from the database; this one from Redis, now held in memory
    take_redis_down()
    with django_assert_num_queries(0):
        assert trial(percentage).pay_price == Decimal("72.00")
    assert not any("reading the database" in record.getMessage() for record in caplog.records)


def test_parallel_load_takes_what_memory_has_and_fetches_only_the_rest(offer):
    trial(offer)
    trial(offer)  # the offer's sku now in memory
    fetched = []

    def fetch(name):
        def run():
            fetched.append(name)
            return name

        return run

    loaded = parallel_load(
        {
            "sku": Loader(fetch=fetch("sku"), peek=lambda: local_peek(sku_key(offer.goods_id))),
            "other": Loader(fetch=fetch("other"), peek=lambda: local_peek("never-cached")),
            "plain": fetch("plain"),
        },
        threads=2,
        timeout=2,
    )
    assert loaded["sku"].goods_id == offer.goods_id
    assert loaded["other"] == "other" and loaded["plain"] == "plain"
    assert sorted(fetched) == ["other", "plain"]
