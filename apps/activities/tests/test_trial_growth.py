"""The trial's growth settings (issue 17): the leader offer's second price, and new-customer teams."""

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.accounts.tests.factories import StaffFactory
from apps.activities.models import Activity, Discount
from apps.activities.tests.factories import DiscountFactory, Offer, an_offer
from apps.activities.trial import Intent, TrialRequest, trial_calculate
from apps.common.errors import GroupBuyError, ResponseCode
from apps.tags.services import crowd_tag_add_members
from apps.tags.tests.factories import CrowdTagFactory
from apps.trade.models import Order
from apps.trade.services import order_refund
from apps.trade.tests.helpers import lock_team, settle_orders

pytestmark = pytest.mark.django_db


def trial(offer: Offer, user_id: str | None = "demo1", intent: Intent = Intent.BROWSE):
    return trial_calculate(
        TrialRequest(user_id=user_id, source=offer.source, channel=offer.channel, goods_id=offer.goods_id,
                     intent=intent)
    )  # fmt: skip


def with_leader_offer(offer: Offer, plan: str = "ZJ", expr: str = "10", **discount) -> Discount:
    leader = DiscountFactory.create(market_plan=plan, market_expr=expr, discount_name="leader", **discount)
    Activity.objects.filter(pk=offer.activity.pk).update(leader_discount=leader)
    return leader


@pytest.fixture
def new_customers(offer) -> Offer:
    """``offer`` (100.00, 20 off) whose joiners must be new customers."""
    Activity.objects.filter(pk=offer.activity.pk).update(new_customers_only=True)
    return offer


def paid_once(offer: Offer, user_id: str) -> None:
    """``user_id`` opens a team of ``offer`` and pays for it: no longer a new customer on its channel."""
    lock_team(offer, (user_id,))
    settle_orders(offer, (user_id,))


# --- the leader offer ----------------------------------------------------------------------------------


def test_without_a_leader_offer_there_is_no_leader_price(offer):
    result = trial(offer)
    assert (result.pay_price, result.leader_pay_price, result.leader_deduction_price) == (Decimal("80.00"), None, None)
    assert result.prices_for(opening=True) == result.prices_for(opening=False) == (Decimal("20.00"), Decimal("80.00"))


@pytest.mark.parametrize(
    ("plan", "expr", "leader_pay"),
    [("ZJ", "10", "70.00"), ("ZK", "0.5", "40.00"), ("MJ", "80,15", "65.00"), ("MJ", "90,15", "80.00"),
     ("N", "1.99", "1.99"), ("N", "99", "80.00"), ("ZJ", "500", "0.01")],
)  # fmt: skip
def test_the_leader_plan_applies_to_the_joiners_price(offer, plan, expr, leader_pay):
    with_leader_offer(offer, plan, expr)
    result = trial(offer)
    assert result.pay_price == Decimal("80.00")  # the joiner's price is unchanged
    assert result.leader_pay_price == Decimal(leader_pay)
    assert result.leader_deduction_price == Decimal("100.00") - Decimal(leader_pay)
    assert result.prices_for(opening=True) == (result.leader_deduction_price, result.leader_pay_price)
    assert result.prices_for(opening=False) == (Decimal("20.00"), Decimal("80.00"))


def test_anonymous_visitors_see_the_leader_price_too(offer):
    with_leader_offer(offer)
    assert trial(offer, user_id=None).leader_pay_price == Decimal("70.00")


def test_a_tag_only_base_discount_leaves_the_leader_plan_on_the_original_price(offer):
    crowd = CrowdTagFactory.create()
    crowd_tag_add_members(tag=crowd, user_ids=["member"])
    Discount.objects.filter(pk=offer.activity.discount.pk).update(discount_type=1, tag_id=crowd.tag_id)
    with_leader_offer(offer, "ZK", "0.9")
    assert (trial(offer, "member").pay_price, trial(offer, "member").leader_pay_price) == (
        Decimal("80.00"),
        Decimal("72.00"),
    )
    assert (trial(offer, "outsider").pay_price, trial(offer, "outsider").leader_pay_price) == (
        Decimal("100.00"),
        Decimal("90.00"),
    )


def test_a_tag_only_leader_offer_is_for_its_members(offer):
    crowd = CrowdTagFactory.create()
    crowd_tag_add_members(tag=crowd, user_ids=["member"])
    with_leader_offer(offer, discount_type=1, tag=crowd)
    assert trial(offer, "member").leader_pay_price == Decimal("70.00")
    assert trial(offer, "outsider").leader_pay_price is None


def test_a_leader_plan_without_calculator_is_e0001(offer, monkeypatch):
    from apps.activities import discounts

    with_leader_offer(offer, "N", "5")
    monkeypatch.delitem(discounts.discount_strategies._items, "N")
    with pytest.raises(GroupBuyError) as caught:
        trial(offer)
    assert caught.value.code == "E0001"


def test_editing_the_leader_discount_in_admin_reprices_at_once(offer, client, django_capture_on_commit_callbacks):
    leader = with_leader_offer(offer)
    assert trial(offer).leader_pay_price == Decimal("70.00")  # cached now
    client.force_login(StaffFactory())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:activities_discount_change", args=[leader.pk]),
            {"discount_id": leader.discount_id, "discount_name": "leader", "discount_desc": "", "discount_type": "0",
             "market_plan": "ZJ", "market_expr": "15", "tag": ""},
        )  # fmt: skip
    assert response.status_code == 302
    assert trial(offer).leader_pay_price == Decimal("65.00")


def test_a_warm_trial_with_a_leader_offer_makes_no_query(offer, django_assert_num_queries):
    with_leader_offer(offer)
    trial(offer)
    with django_assert_num_queries(0):
        assert trial(offer).leader_pay_price == Decimal("70.00")


# --- new-customer teams --------------------------------------------------------------------------------


def test_a_new_customer_may_open_and_join(new_customers):
    result = trial(new_customers, "newbie")
    assert (result.is_visible, result.is_enable, result.join_enable, result.refusal) == (True, True, True, None)
    assert trial(new_customers, "newbie", Intent.JOIN).is_enable


def test_a_customer_who_paid_before_may_open_but_not_join(new_customers):
    paid_once(new_customers, "regular")
    browse = trial(new_customers, "regular")
    assert (browse.is_enable, browse.join_enable, browse.refusal) == (True, False, ResponseCode.E0107)
    join = trial(new_customers, "regular", Intent.JOIN)
    assert (join.is_enable, join.join_enable, join.refusal) == (False, False, ResponseCode.E0107)
    opening = trial(new_customers, "regular", Intent.OPEN)
    assert (opening.is_enable, opening.refusal) == (True, None)


def test_without_the_setting_a_customer_who_paid_may_join(offer):
    paid_once(offer, "regular")
    result = trial(offer, "regular", Intent.JOIN)
    assert (result.is_enable, result.join_enable, result.refusal) == (True, True, None)


def test_paid_before_means_ever_paid_on_this_channel(new_customers):
    """Refunded after paying still counts; a lock never paid does not; nor does a payment on another channel."""
    paid_once(new_customers, "refunded")
    order_refund(**new_customers.in_channel, out_trade_no="OTN-refunded", user_id="refunded")
    assert Order.objects.get(out_trade_no="OTN-refunded").status == Order.Status.REFUNDED
    assert not trial(new_customers, "refunded").join_enable

    lock_team(new_customers, ("locker",))  # locked, never paid
    assert trial(new_customers, "locker").join_enable
    order_refund(**new_customers.in_channel, out_trade_no="OTN-locker", user_id="locker")  # closed unpaid
    assert trial(new_customers, "locker").join_enable

    elsewhere = an_offer()  # another channel
    paid_once(elsewhere, "traveller")
    assert trial(new_customers, "traveller").join_enable

    sibling = an_offer(credential=new_customers.credential)  # another activity of the same channel
    paid_once(sibling, "sibling")
    assert not trial(new_customers, "sibling").join_enable


def test_a_crowd_tag_refusal_comes_first(new_customers):
    crowd = CrowdTagFactory.create()
    crowd_tag_add_members(tag=crowd, user_ids=["member"])
    Activity.objects.filter(pk=new_customers.activity.pk).update(tag=crowd, tag_scope="2")
    result = trial(new_customers, "outsider")
    assert (result.is_enable, result.join_enable, result.refusal) == (False, False, ResponseCode.E0007)


def test_the_customer_check_costs_one_query_and_only_where_asked(new_customers, django_assert_num_queries):
    trial(new_customers, "demo1")  # warms the caches
    with django_assert_num_queries(1):
        trial(new_customers, "demo1")
    with django_assert_num_queries(1):
        trial(new_customers, "demo1", Intent.JOIN)
    with django_assert_num_queries(0):
        trial(new_customers, "demo1", Intent.OPEN)
    with django_assert_num_queries(0):
        assert trial(new_customers, None).join_enable  # anonymous: the lock asks once they log in
