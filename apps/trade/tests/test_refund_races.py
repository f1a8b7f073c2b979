"""Refund races on real MariaDB and Redis; after each, the shared invariants hold."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.activities.tests.factories import Offer
from apps.common.mq import TEAM_REFUND
from apps.notifications.consumers import message_apply
from apps.notifications.models import NotifyTask
from apps.trade.lock import LockCommand
from apps.trade.models import Order, Team
from apps.trade.services import order_lock, order_refund, order_settle
from apps.trade.settle import SettleCommand
from apps.trade.tests.helpers import in_thread, lock_team
from apps.trade.tests.invariants import assert_trade_invariants
from apps.trade.timeouts import trade_timeouts_run

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def team(mariadb, real_redis, offer):
    return lock_team(offer, ("demo1", "demo2"))


@in_thread
def settle(offer: Offer, user: str, at=None) -> str:
    order_settle(command=SettleCommand(user_id=user, source=offer.source, channel=offer.channel,
                                       out_trade_no=f"OTN-{user}", out_trade_time=at or timezone.now()))  # fmt: skip
    return "settled"


@in_thread
def refund(offer: Offer, user: str) -> str:
    outcome = order_refund(source=offer.source, channel=offer.channel, out_trade_no=f"OTN-{user}")
    return "repeat" if outcome.repeat else outcome.strategy


def race(*calls):
    with ThreadPoolExecutor(len(calls)) as pool:
        return [future.result() for future in [pool.submit(fn, *args) for fn, *args in calls]]


@pytest.mark.parametrize("rounds", range(3))
def test_refund_racing_settlement_of_the_same_order(offer, team, rounds):
    outcomes = race((settle, offer, "demo1"), (refund, offer, "demo1"))
    order = Order.objects.get(out_trade_no="OTN-demo1")
    assert order.status == Order.Status.REFUNDED  # the refund always ends last or wins
    # Whichever commits first wins; the other sees the new state: money never counted twice.
    assert outcomes in (["settled", "paid_unformed"], ["E0104", "unpaid_unlock"])
    assert_trade_invariants(check_redis=False)


def test_two_refunds_of_the_same_order_at_once(offer, team):
    outcomes = sorted(race((refund, offer, "demo1"), (refund, offer, "demo1"), (refund, offer, "demo1")))
    assert outcomes == ["repeat", "repeat", "unpaid_unlock"]
    assert Team.objects.get(team_id=team).lock_count == 1
    assert_trade_invariants(check_redis=False)


def test_timeout_job_racing_a_late_payment(offer, team):
    later = timezone.now() + timedelta(minutes=16)

    @in_thread
    def timeouts():
        return str(trade_timeouts_run(now=later))

    outcomes = race((timeouts,), (settle, offer, "demo1", timezone.now()))
    order = Order.objects.get(out_trade_no="OTN-demo1")
    team_row = Team.objects.get(team_id=team)
    assert team_row.status == Team.Status.FAILED
    # Paid first and then refunded by the failing team, or released unpaid and the payment refused.
    assert order.status == Order.Status.REFUNDED
    assert outcomes[1] in {"settled", "E0104"}
    assert_trade_invariants(check_redis=False)


@pytest.mark.parametrize("rounds", range(3))
def test_a_join_racing_the_last_members_cancel_never_lands_in_a_closed_team(mariadb, real_redis, offer, rounds):
    """Either the join commits first (the team lives on with the joiner) or it is refused (E0005, closed)."""
    team_id = lock_team(offer, ("demo1",))

    @in_thread
    def join() -> str:
        order_lock(command=LockCommand(user_id="demo2", source=offer.source, channel=offer.channel,
                                       goods_id=offer.goods_id, activity_id=offer.activity_id,
                                       out_trade_no="OTN-demo2", team_id=team_id))  # fmt: skip
        return "joined"

    outcomes = race((refund, offer, "demo1"), (join,))
    team_row = Team.objects.get(team_id=team_id)
    assert outcomes in (["unpaid_unlock", "joined"], ["unpaid_unlock", "E0005"])
    expected = Team.Status.IN_PROGRESS if outcomes[1] == "joined" else Team.Status.FAILED
    assert (team_row.status, team_row.lock_count) == (expected, 1 if outcomes[1] == "joined" else 0)
    for task in NotifyTask.objects.filter(notify_type="MQ", notify_mq=TEAM_REFUND):  # as the consumer would
        message_apply(routing_key=TEAM_REFUND, message_uuid=str(task.uuid), body=task.parameter_json)
    assert_trade_invariants()
