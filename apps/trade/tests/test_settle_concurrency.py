"""Duplicate and racing settlements on real MariaDB: money state changes once."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.utils import timezone

from apps.activities.tests.factories import Offer
from apps.notifications.models import NotifyTask
from apps.trade.models import Order, Team
from apps.trade.services import order_settle
from apps.trade.settle import SettleCommand
from apps.trade.tests.helpers import in_thread, lock_team
from apps.trade.tests.invariants import assert_trade_invariants

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def full_team(mariadb, real_redis, offer):
    return lock_team(offer, ("demo1", "demo2", "demo3"))


def settler(offer: Offer) -> Callable[[str], str]:
    """A thread body settling ``offer``'s order OTN-<user> now; it answers the team id."""

    @in_thread
    def settle(user_id: str) -> str:
        command = SettleCommand(user_id=user_id, source=offer.source, channel=offer.channel,
                                out_trade_no=f"OTN-{user_id}", out_trade_time=timezone.now())  # fmt: skip
        return order_settle(command=command).team_id

    return settle


def test_twenty_duplicate_settlements_pay_once(offer, full_team):
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(settler(offer), ["demo1"] * 20))
    assert set(answers) == {full_team}
    assert Team.objects.get(team_id=full_team).complete_count == 1
    assert Order.objects.get(out_trade_no="OTN-demo1").status == Order.Status.PAID
    assert_trade_invariants()


def test_the_whole_team_settling_at_once_completes_it_once(offer, full_team):
    with ThreadPoolExecutor(15) as pool:
        answers = list(pool.map(settler(offer), ["demo1", "demo2", "demo3"] * 5))
    assert set(answers) == {full_team}
    team = Team.objects.get(team_id=full_team)
    assert (team.status, team.complete_count) == (Team.Status.COMPLETE, 3)
    assert NotifyTask.objects.filter(team_id=full_team, notify_category="trade_settlement").count() == 1
    assert_trade_invariants()


def test_a_payment_is_one_round_trip_and_its_commit(offer, full_team, round_trips):
    def settle(user_id: str) -> None:
        order_settle(command=SettleCommand(user_id=user_id, source=offer.source, channel=offer.channel,
                                           out_trade_no=f"OTN-{user_id}", out_trade_time=timezone.now()))  # fmt: skip

    settle("demo1")  # warms the caches
    round_trips.clear()
    settle("demo2")
    assert len(round_trips) == 1  # BEGIN, both UPDATEs and the read back; then the COMMIT, by its own call
    assert round_trips[0].startswith(b"BEGIN; UPDATE") and b"ROW_COUNT() > 0" in round_trips[0]
    round_trips.clear()
    settle("demo3")  # the completing payment: the completion's statements follow in the same transaction
    assert round_trips[0].startswith(b"BEGIN; UPDATE") and len(round_trips) == 3  # + [complete; paid], outbox
    assert Team.objects.get(team_id=full_team).status == Team.Status.COMPLETE
    assert_trade_invariants()
