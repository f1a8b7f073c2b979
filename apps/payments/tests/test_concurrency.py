"""Racing creates and notifies on real MariaDB and Redis: one order per key, paid and settled once."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import IntegrityError, transaction

from apps.payments.models import PayOrder
from apps.payments.notify import payment_notify_handle
from apps.payments.tests.factories import PayOrderFactory
from apps.payments.tests.helpers import create_order, notify_params, user
from apps.trade.models import Order, Team
from apps.trade.tests.helpers import in_thread
from apps.trade.tests.invariants import assert_trade_invariants

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def services_offer(mariadb, real_redis, mall_offer):
    """The mall's offer on MariaDB and a real Redis."""
    return mall_offer


def test_twenty_creates_with_one_key_make_one_order(services_offer):
    user("xiaofuge")  # the shopper exists before the race, as a logged-in one does
    create = in_thread(lambda _: create_order("xiaofuge", services_offer.goods_id, idempotency_key="race-1").order_id)
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(create, range(20)))
    (order,) = PayOrder.objects.all()
    assert set(answers) == {order.order_id}
    assert order.status == PayOrder.Status.PAY_WAIT
    assert Order.objects.get().out_trade_no == order.order_id
    assert Team.objects.get().lock_count == 1
    assert_trade_invariants()


def test_ten_identical_notifies_pay_and_settle_once(services_offer):
    order = create_order("xiaofuge", services_offer.goods_id)
    params = notify_params(order)
    handle = in_thread(lambda _: payment_notify_handle(params=dict(params)))
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(handle, range(10)))
    assert answers == [True] * 10
    paid = PayOrder.objects.get(pk=order.pk)
    assert (paid.status, paid.refund_required) == (PayOrder.Status.PAY_SUCCESS, False)
    assert Order.objects.get(out_trade_no=order.order_id).status == Order.Status.PAID
    assert Team.objects.get(team_id=order.team_id).complete_count == 1
    assert_trade_invariants()


def test_a_whole_team_paying_at_once_completes_it_once(services_offer):
    from apps.notifications.models import NotifyTask

    leader = create_order("demo1", services_offer.goods_id)
    orders = [
        leader,
        create_order("demo2", services_offer.goods_id, team_id=leader.team_id),
        create_order("demo3", services_offer.goods_id, team_id=leader.team_id),
    ]
    notifies = [notify_params(order) for order in orders] * 4
    handle = in_thread(lambda params: payment_notify_handle(params=dict(params)))
    with ThreadPoolExecutor(12) as pool:
        assert all(pool.map(handle, notifies))
    team = Team.objects.get(team_id=leader.team_id)
    assert (team.status, team.complete_count) == (Team.Status.COMPLETE, 3)
    assert NotifyTask.objects.filter(team_id=team.team_id, notify_category="trade_settlement").count() == 1
    assert set(PayOrder.objects.values_list("status", flat=True)) == {PayOrder.Status.PAY_SUCCESS}
    assert_trade_invariants()


def test_teams_whose_members_pay_at_the_same_moment_settle_without_a_deadlock_reaching_the_gateway(services_offer):
    """Teammates' notifies deadlock on the team's rows now and then (MariaDB 1213): each is run again at once, so
    none answers "fail" (a 503) and waits for the gateway's retry minutes later."""
    from apps.notifications.models import NotifyTask

    teams = []
    for n in range(8):
        leader = create_order(f"lead{n}", services_offer.goods_id)
        mates = [create_order(f"mate{n}{m}", services_offer.goods_id, team_id=leader.team_id) for m in "ab"]
        teams.append([leader, *mates])
    notifies = [notify_params(order) for team in teams for order in team]
    start = threading.Barrier(len(notifies), timeout=30)

    def pay(params: dict[str, str]) -> bool:
        start.wait()
        return payment_notify_handle(params=dict(params))

    with ThreadPoolExecutor(len(notifies)) as pool:
        answers = list(pool.map(in_thread(pay), notifies))  # a deadlock that got through raises here
    assert answers == [True] * len(notifies)
    for team in teams:
        row = Team.objects.get(team_id=team[0].team_id)
        assert (row.status, row.complete_count) == (Team.Status.COMPLETE, 3)
        assert NotifyTask.objects.filter(team_id=row.team_id, notify_category="trade_settlement").count() == 1
    assert set(PayOrder.objects.values_list("status", flat=True)) == {PayOrder.Status.PAY_SUCCESS}
    assert_trade_invariants()


def test_the_idempotency_key_is_unique_per_user_on_mariadb(mariadb):
    shopper = PayOrderFactory(idempotency_key=None).user
    PayOrderFactory(user=shopper, idempotency_key=None)  # NULLs never collide
    PayOrderFactory(user=shopper, idempotency_key="k")
    PayOrderFactory(idempotency_key="k")  # another user
    with pytest.raises(IntegrityError), transaction.atomic():
        PayOrderFactory(user=shopper, idempotency_key="k")
    assert user(shopper.username).pay_orders.count() == 3
