"""Mall orders with issue 17's offers: a leader pays, settles and is refunded the leader price; a customer who
paid before is refused a new-customer team's seat with words a shopper understands, and may still open one."""

from decimal import Decimal

import pytest

from apps.activities.models import Activity
from apps.activities.tests.factories import DiscountFactory, Offer
from apps.common.errors import GroupBuyError
from apps.common.mq import TEAM_REFUND
from apps.payments.models import PayOrder, RefundRecord
from apps.payments.notify import payment_notify_handle
from apps.payments.tests.helpers import create_order, login, mobile_client, notify_params
from apps.payments.tests.test_pages import buy
from apps.payments.tests.test_refunds import deliver_bus_messages, refund_as_shopper
from apps.trade.models import Order, Team

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/mall/orders"


@pytest.fixture
def leader_offer(mall_offer) -> Offer:
    """The mall's offer (100.00, 20 off) with 10 more off for whoever opens a team: 70.00 as leader."""
    leader = DiscountFactory.create(market_plan="ZJ", market_expr="10", discount_name="leader 10 off")
    Activity.objects.filter(pk=mall_offer.activity.pk).update(leader_discount=leader)
    return mall_offer


@pytest.fixture
def new_customers(mall_offer) -> Offer:
    Activity.objects.filter(pk=mall_offer.activity.pk).update(new_customers_only=True, take_limit_count=2)
    return mall_offer


def pay(order: PayOrder) -> None:
    assert payment_notify_handle(params=notify_params(order))


def test_the_leader_orders_at_the_leader_price_and_a_joiner_at_the_joiners(leader_offer):
    leader = create_order("leader", leader_offer.goods_id)
    joiner = create_order("joiner", leader_offer.goods_id, team_id=leader.team_id)
    assert (leader.total_amount, leader.market_deduction_amount, leader.pay_amount) == (
        Decimal("100.00"),
        Decimal("30.00"),
        Decimal("70.00"),
    )
    assert (joiner.market_deduction_amount, joiner.pay_amount) == (Decimal("20.00"), Decimal("80.00"))


def test_the_mall_api_charges_the_leader_price(leader_offer):
    data = mobile_client("leader").post(ORDERS, {"goodsId": leader_offer.goods_id}, format="json").json()["data"]
    assert data["payAmount"] == "70.00"
    joined = mobile_client("joiner").post(
        ORDERS, {"goodsId": leader_offer.goods_id, "teamId": data["teamId"]}, format="json"
    )
    assert joined.json()["data"]["payAmount"] == "80.00"


def test_a_team_with_a_leader_price_settles_and_forms(leader_offer, tasks_run_inline):
    orders = [create_order("leader", leader_offer.goods_id)]
    orders += [create_order(name, leader_offer.goods_id, team_id=orders[0].team_id) for name in ("j1", "j2")]
    for order in orders:
        pay(order)  # the gateway's amount is the order's: the leader's 70.00 is accepted as paid in full
    team = Team.objects.get(team_id=orders[0].team_id)
    assert (team.status, team.complete_count) == (Team.Status.COMPLETE, 3)
    assert [o.pay_price for o in Order.objects.filter(team=team).order_by("id")] == [
        Decimal("70.00"),
        Decimal("80.00"),
        Decimal("80.00"),
    ]
    assert all(order.status == PayOrder.Status.PAY_SUCCESS or order.status == PayOrder.Status.DEAL_DONE
               for order in PayOrder.objects.filter(team_id=team.team_id))  # fmt: skip


def test_a_paid_leader_order_is_refunded_the_leader_price(
    leader_offer, tasks_run_inline, django_capture_on_commit_callbacks
):
    order = create_order("leader", leader_offer.goods_id)
    pay(order)
    assert refund_as_shopper(order) == "paid_unformed"
    deliver_bus_messages(TEAM_REFUND, django_capture_on_commit_callbacks)
    record = RefundRecord.objects.get(pay_order=order)
    assert (record.status, record.amount) == ("SUCCESS", Decimal("70.00"))


def test_a_customer_who_paid_before_cannot_join_but_may_open(new_customers, tasks_run_inline):
    pay(create_order("regular", new_customers.goods_id))
    team_id = create_order("newbie", new_customers.goods_id).team_id
    with pytest.raises(GroupBuyError) as caught:
        create_order("regular", new_customers.goods_id, team_id=team_id)
    assert caught.value.code == "E0107"
    refused = PayOrder.objects.get(user__username="regular", team_id=team_id)
    assert (refused.status, refused.market_code) == (PayOrder.Status.CLOSE, "E0107")
    assert Team.objects.get(team_id=team_id).lock_count == 1
    assert create_order("newbie2", new_customers.goods_id, team_id=team_id).team_id == team_id


def test_the_goods_page_says_only_new_customers_may_join(client, new_customers, tasks_run_inline):
    pay(create_order("regular", new_customers.goods_id))
    team_id = create_order("newbie", new_customers.goods_id).team_id
    login(client, "regular")
    html = client.get(f"/goods/{new_customers.goods_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'data-team-id="{team_id}"' in html
    assert '<span class="join-refused">Only new customers may join</span>' in html
    assert ">Join</button>" not in html
    assert 'class="open-team"' in html  # opening stays possible
    assert "Only new customers may join a team; anyone may open one." in html
    # A join posted anyway (a stale page) is refused in a shopper's words, never a code.
    response = client.post(
        f"/goods/{new_customers.goods_id}/buy", {"team_id": team_id, "idempotency_key": "stale"},
        HTTP_ACCEPT_LANGUAGE="en", follow=True,
    )  # fmt: skip
    page = response.content.decode()
    assert "Only new customers may join this team. You can still open a team of your own." in page
    assert "E0107" not in page


def test_a_new_customer_sees_the_join_button(client, new_customers):
    team_id = create_order("newbie", new_customers.goods_id).team_id
    login(client, "newcomer")
    html = client.get(f"/goods/{new_customers.goods_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'data-team-id="{team_id}"' in html and ">Join</button>" in html and "join-refused" not in html
    assert buy(client, new_customers.goods_id, team_id=team_id, key="join-1").startswith("/cashier/")


def test_the_goods_page_shows_the_leader_and_the_joiner_price(client, leader_offer):
    login(client, "shopper")
    html = client.get(f"/goods/{leader_offer.goods_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<span class="group-price">¥80.00</span>' in html
    assert 'Open a team and pay the leader\'s price: <span class="leader-price">¥70.00</span>' in html
    assert '>Open a team <span class="button-price">¥70.00</span></button>' in html


def test_the_team_page_and_api_tell_a_customer_who_paid_before_they_cannot_join(
    client, new_customers, tasks_run_inline
):
    pay(create_order("regular", new_customers.goods_id))
    team_id = create_order("newbie", new_customers.goods_id).team_id
    login(client, "regular")
    html = client.get(f"/teams/{team_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Only new customers may join this team. You can still open a team of your own." in html
    assert 'class="join-team"' not in html
    assert mobile_client("regular").get(f"/api/v1/mall/teams/{team_id}").json()["data"]["canJoin"] is False
    login(client, "newcomer")
    html = client.get(f"/teams/{team_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'class="join-team"' in html and "Only new customers may join" not in html
    assert mobile_client("newcomer").get(f"/api/v1/mall/teams/{team_id}").json()["data"]["canJoin"] is True
