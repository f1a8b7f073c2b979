"""The operators' limits under races, on real MariaDB and Redis: threads locking, settling and refunding at once
never form more teams than an activity's limit, nor take more seats than a user's daily limit."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import pytest
from django.utils import timezone

from apps.activities.tests.factories import Offer, an_offer
from apps.channels.tests.factories import ChannelCredentialFactory
from apps.trade.lock import LockCommand
from apps.trade.models import DailyTakes, FormationQuota, Order, Team
from apps.trade.selectors import FORMED, HOLDS_FORMATION_SLOT
from apps.trade.services import order_lock, order_refund, order_settle
from apps.trade.settle import SettleCommand
from apps.trade.tests.helpers import in_thread, lock_team
from apps.trade.tests.invariants import assert_trade_invariants

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

N = 3
K = 3


@pytest.fixture
def services(mariadb, real_redis) -> None:
    """Both real servers (the fixtures skip, or fail under GBM_REQUIRE_SERVICES=1, without them)."""


def _lock(offer: Offer, user: str, out_trade_no: str, team_id: str | None = None) -> str:
    result = order_lock(
        command=LockCommand(
            user_id=user, source=offer.source, channel=offer.channel, goods_id=offer.goods_id,
            activity_id=offer.activity_id, out_trade_no=out_trade_no, team_id=team_id,
        )
    )  # fmt: skip
    return f"ok:{result.team_id}"


def _settle(offer: Offer, user: str, out_trade_no: str) -> str:
    order_settle(
        command=SettleCommand(user_id=user, source=offer.source, channel=offer.channel, out_trade_no=out_trade_no,
                              out_trade_time=timezone.now())
    )  # fmt: skip
    return "ok"


def race(calls: list[tuple[Any, ...]]) -> list[Any]:
    """Each ``(fn, *args)`` in its own thread, all released together; a refusal answers its code."""
    start = Barrier(len(calls))

    def run(call: tuple[Any, ...]) -> Any:
        start.wait()
        fn, *args = call
        return in_thread(fn)(*args)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def formed(offer: Offer) -> int:
    return Team.objects.filter(FORMED, activity=offer.activity).count()


def assert_quota_agrees(offer: Offer) -> None:
    """The quota row counts exactly the teams holding a slot, and never more than the limit."""
    holding = Team.objects.filter(HOLDS_FORMATION_SLOT, activity=offer.activity).count()
    assert FormationQuota.objects.get(activity=offer.activity).reserved == holding <= N


@pytest.mark.parametrize("seeded", [False, True], ids=["racing-to-seed", "seeded"])
def test_n_plus_five_openers_who_pay_at_once_form_n_teams(services, seeded):
    """Teams of one: each opener pays at once, so every team that opens forms. Either the quota row does not
    exist yet (the racers also race to seed it), or one team formed before and the racers queue on the row."""
    offer = an_offer(target=1, max_teams_formed=N)

    def open_and_pay(user: str) -> str:
        outcome = _lock(offer, user, f"OTN-{user}")
        return _settle(offer, user, f"OTN-{user}") and outcome

    if seeded:
        open_and_pay("first")
    outcomes = race([(open_and_pay, f"racer{i}") for i in range(N + 5)])
    assert sum(1 for o in outcomes if str(o).startswith("ok")) == N - seeded, outcomes
    assert {o for o in outcomes if not str(o).startswith("ok")} == {"E0108"}
    assert formed(offer) == N
    assert_quota_agrees(offer)
    assert_trade_invariants()


def test_teams_completing_at_once_while_others_open_and_leave_never_exceed_n(services):
    """N open teams of two fill up and pay all at once; meanwhile N+5 newcomers try to open and one team's
    members leave it (its slot comes back, and at most one newcomer gets it)."""
    offer = an_offer(target=2, max_teams_formed=N)
    teams = [lock_team(offer, (f"lead{i}", f"mate{i}")) for i in range(N)]
    payers = [(f"lead{i}", f"mate{i}") for i in range(1, N)]
    calls: list[tuple[Any, ...]] = [(_settle, offer, user, f"OTN-{user}") for pair in payers for user in pair]
    calls += [(_lock, offer, f"new{i}", f"NEW-{i}") for i in range(N + 5)]
    leaving = [(order_refund, offer.source, offer.channel, f"OTN-{user}") for user in ("lead0", "mate0")]
    calls += [(lambda fn, *args: fn(source=args[0], channel=args[1], out_trade_no=args[2]) and "left", *call)
              for call in leaving]  # fmt: skip
    outcomes = race(calls)
    opened = [o for o in outcomes if str(o).startswith("ok:")]
    assert len(opened) <= 1 and set(outcomes) <= {"ok", "left", "E0108", *opened}, outcomes
    assert Team.objects.get(team_id=teams[0]).status == Team.Status.FAILED
    assert formed(offer) == N - 1  # the teams that paid; the emptied one gave its slot to at most one newcomer
    assert_quota_agrees(offer)
    # Whatever the newcomers did, paying every team that holds a slot forms at most N.
    for order in Order.objects.filter(activity=offer.activity, status=Order.Status.LOCKED):
        _settle(offer, order.user_id, order.out_trade_no)
    assert formed(offer) <= N
    assert_trade_invariants()


def test_k_plus_five_locks_of_one_user_over_several_activities_take_k(services):
    """One shopper locks K+5 different offers of a channel at once: the first take of the day races to make the
    user's counter row, then the rest queue on it."""
    channel = ChannelCredentialFactory.create(daily_take_limit=K)
    offers = [an_offer(credential=channel) for _ in range(K + 5)]
    outcomes = race([(_lock, offer, "greedy", f"GREEDY-{i}") for i, offer in enumerate(offers)])
    assert sum(1 for o in outcomes if str(o).startswith("ok")) == K, outcomes
    assert {o for o in outcomes if not str(o).startswith("ok")} == {"E0109"}
    assert Order.objects.filter(user_id="greedy").count() == K
    assert DailyTakes.objects.get(user_id="greedy").takes == K
    assert Team.objects.count() == K  # the refused locks' teams were rolled back with them
    assert_trade_invariants()


def test_retries_racing_at_the_daily_limit_answer_the_one_order(services):
    """At K-1 takes, the same lock retried by many threads takes the last one once; the others replay it."""
    channel = ChannelCredentialFactory.create(daily_take_limit=K)
    offers = [an_offer(credential=channel) for _ in range(K)]
    for i, offer in enumerate(offers[:-1]):
        _lock(offer, "shopper", f"BEFORE-{i}")
    outcomes = race([(_lock, offers[-1], "shopper", "LAST")] * 10)
    assert len(set(outcomes)) == 1 and outcomes[0].startswith("ok"), outcomes
    assert DailyTakes.objects.get(user_id="shopper").takes == K
    assert Order.objects.filter(out_trade_no="LAST").count() == 1
