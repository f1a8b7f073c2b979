"""The lock with issue 17's offers: the leader pays the leader price, joiners the joiner's; new-customer teams."""

from decimal import Decimal

import pytest
from django.utils import translation

from apps.activities.models import Activity
from apps.activities.tests.factories import DiscountFactory, Offer, an_offer
from apps.common.errors import GroupBuyError
from apps.common.tests.round_trips import sent_together
from apps.trade.models import Order, Team
from apps.trade.services import order_refund
from apps.trade.tests.helpers import lock_team, settle_orders, team_stock_read
from apps.trade.tests.invariants import assert_trade_invariants
from apps.trade.tests.test_lock import lock, post, refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def leader_offer(offer) -> Offer:
    """``offer`` (100.00, 20 off: 80.00) with a leader offer of 10 more off: the leader pays 70.00."""
    leader = DiscountFactory.create(market_plan="ZJ", market_expr="10", discount_name="leader 10 off")
    Activity.objects.filter(pk=offer.activity.pk).update(leader_discount=leader)
    return offer


@pytest.fixture
def new_customers(offer) -> Offer:
    Activity.objects.filter(pk=offer.activity.pk).update(new_customers_only=True)
    return offer


def prices(order_or_team) -> tuple[str, str, str]:
    return str(order_or_team.original_price), str(order_or_team.deduction_price), str(order_or_team.pay_price)


# --- the leader offer ----------------------------------------------------------------------------------


def test_the_leader_pays_the_leader_price_and_joiners_the_joiners(leader_offer):
    opened = lock(leader_offer, user_id="leader")
    joined = lock(leader_offer, user_id="joiner", team_id=opened.team_id)
    assert (str(opened.deduction_price), str(opened.pay_price)) == ("30.00", "70.00")
    assert (str(joined.deduction_price), str(joined.pay_price)) == ("20.00", "80.00")
    assert prices(Order.objects.get(order_id=opened.order_id)) == ("100.00", "30.00", "70.00")
    assert prices(Order.objects.get(order_id=joined.order_id)) == ("100.00", "20.00", "80.00")
    # The team row holds what it offers whoever joins it (docs/decisions/014).
    assert prices(Team.objects.get(team_id=opened.team_id)) == ("100.00", "20.00", "80.00")
    assert_trade_invariants()


def test_a_retried_leader_lock_answers_the_same_leader_price(leader_offer):
    first = lock(leader_offer, user_id="leader", out_trade_no="L-1")
    Activity.objects.filter(pk=leader_offer.activity.pk).update(leader_discount=None)  # the offer ends meanwhile
    assert lock(leader_offer, user_id="leader", out_trade_no="L-1") == first


def test_a_team_of_a_leader_and_joiners_settles_and_forms(leader_offer):
    team_id = lock_team(leader_offer, ("leader", "joiner1", "joiner2"))
    settle_orders(leader_offer, ("leader", "joiner1", "joiner2"))
    team = Team.objects.get(team_id=team_id)
    assert (team.status, team.complete_count) == (Team.Status.COMPLETE, 3)
    paid = dict(Order.objects.filter(team_id=team_id).values_list("user_id", "pay_price"))
    assert paid == {"leader": Decimal("70.00"), "joiner1": Decimal("80.00"), "joiner2": Decimal("80.00")}
    assert_trade_invariants()


def test_the_leader_offer_costs_the_lock_no_query(leader_offer, django_assert_num_queries):
    lock(leader_offer, user_id="warm")
    with django_assert_num_queries(sent_together(2) + 2 + sent_together(2)):
        team_id = lock(leader_offer, user_id="leader").team_id
    with django_assert_num_queries(sent_together(3) + 2 + sent_together(2)):
        lock(leader_offer, user_id="joiner", team_id=team_id)


def test_the_signed_lock_answers_the_leader_price(client, leader_offer):
    opened = post(client, leader_offer).json()["data"]
    assert (opened["originalPrice"], opened["deductionPrice"], opened["payPrice"]) == ("100.00", "30.00", "70.00")
    joined = post(client, leader_offer, userId="demo2", outTradeNo="API-2", teamId=opened["teamId"]).json()["data"]
    assert (joined["deductionPrice"], joined["payPrice"]) == ("20.00", "80.00")


# --- new-customer teams --------------------------------------------------------------------------------


def test_a_customer_who_paid_before_may_open_but_not_join(new_customers):
    lock_team(new_customers, ("regular",))
    settle_orders(new_customers, ("regular",))
    other = an_offer(credential=new_customers.credential, new_customers_only=True)  # same channel, other goods
    team_id = lock_team(other, ("newbie",))
    with translation.override("en"), pytest.raises(GroupBuyError) as caught:
        lock(other, user_id="regular", team_id=team_id)
    assert (caught.value.code, caught.value.info) == ("E0107", "only new customers may join this team")
    team = Team.objects.get(team_id=team_id)
    assert team.lock_count == 1
    assert team_stock_read(team_id=team_id).joiners() == 0  # refused before a seat was taken
    assert lock(other, user_id="regular", out_trade_no="OPEN-2").team_id != team_id  # opening is anyone's
    assert lock(other, user_id="newbie2", team_id=team_id).team_id == team_id  # a new customer joins
    assert_trade_invariants()


def test_a_customer_whose_paid_order_was_refunded_is_not_new(new_customers):
    lock_team(new_customers, ("regular",))
    settle_orders(new_customers, ("regular",))
    order_refund(**new_customers.in_channel, out_trade_no="OTN-regular", user_id="regular")
    team_id = lock_team(new_customers, ("newbie",))
    assert refused(new_customers, user_id="regular", team_id=team_id, out_trade_no="JOIN-R") == "E0107"


def test_without_the_setting_anyone_joins(offer):
    lock_team(offer, ("regular",))
    settle_orders(offer, ("regular",))
    other = an_offer(credential=offer.credential)
    team_id = lock_team(other, ("newbie",))
    assert lock(other, user_id="regular", team_id=team_id).team_id == team_id


def test_a_new_customer_join_costs_one_query_more(new_customers, django_assert_num_queries):
    """Pinned: opening stays 5 queries, a join 6 + the paid-before read, a retry the one read."""
    lock(new_customers, user_id="warm")
    with django_assert_num_queries(sent_together(2) + 2 + sent_together(2)):
        team_id = lock(new_customers, user_id="leader").team_id
    with django_assert_num_queries(sent_together(3) + 3 + sent_together(2)):
        joined = lock(new_customers, user_id="joiner", team_id=team_id)
    with django_assert_num_queries(sent_together(3)):
        assert lock(new_customers, user_id="joiner", team_id=team_id) == joined


def test_the_signed_lock_answers_e0107(client, new_customers):
    lock_team(new_customers, ("demo1",))
    settle_orders(new_customers, ("demo1",))
    other = an_offer(credential=new_customers.credential, new_customers_only=True)
    team_id = lock_team(other, ("newbie",))
    response = post(client, other, teamId=team_id, outTradeNo="API-J")
    payload = response.json()
    assert (response.status_code, payload["code"], payload["info"]) == (
        200,
        "E0107",
        "only new customers may join this team",
    )
    assert not Order.objects.filter(out_trade_no="API-J").exists()
