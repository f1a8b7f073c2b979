"""Races on real MariaDB and Redis: threads and separate processes against the same team."""

import multiprocessing
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from apps.activities.tests.factories import Offer
from apps.common.errors import GroupBuyError
from apps.trade.lock import LockCommand
from apps.trade.models import Order, Team
from apps.trade.services import order_lock
from apps.trade.tests.helpers import team_stock_read
from apps.trade.tests.invariants import assert_trade_invariants

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def racing(mariadb, real_redis, offer) -> Offer:
    """The offer the racers lock: 3 seats, one order per shopper."""
    return offer


def attempt(offer: Offer, user_id: str, out_trade_no: str, team_id: str | None = None) -> tuple[str, str]:
    """One lock in its own DB connection: ("ok", team_id:order_id) or ("refused", code)."""
    try:
        result = order_lock(
            command=LockCommand(
                user_id=user_id, source=offer.source, channel=offer.channel, goods_id=offer.goods_id,
                activity_id=offer.activity_id, out_trade_no=out_trade_no, team_id=team_id,
            )
        )  # fmt: skip
        return "ok", f"{result.team_id}:{result.order_id}:{result.pay_price}"
    except GroupBuyError as exc:
        return "refused", exc.code
    finally:
        connections.close_all()


def race_threads(offer: Offer, calls: list[tuple], workers: int = 20) -> list[tuple[str, str]]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda args: attempt(offer, *args), calls))


def test_forty_users_race_for_two_seats_with_threads(racing):
    team_id = attempt(racing, "leader", "LEADER")[1].split(":")[0]
    outcomes = race_threads(racing, [(f"racer{i}", f"RACE-{i}", team_id) for i in range(40)])
    winners = [o for o in outcomes if o[0] == "ok"]
    codes = {o[1] for o in outcomes if o[0] == "refused"}
    assert len(winners) == 2
    assert codes == {"E0006"}  # full, whichever guard caught it
    team = Team.objects.get(team_id=team_id)
    assert team.lock_count == 3
    assert team_stock_read(team_id=team_id).joiners() == 2  # Redis agrees with the database
    assert_trade_invariants()


def _process_worker(args: tuple) -> tuple[str, str]:
    connections.close_all()  # never share the parent's socket
    return attempt(*args)


def test_forty_users_race_for_two_seats_with_processes(racing):
    team_id = attempt(racing, "leader", "LEADER")[1].split(":")[0]
    connections.close_all()
    context = multiprocessing.get_context("fork")
    with context.Pool(8) as pool:
        outcomes = pool.map(_process_worker, [(racing, f"proc{i}", f"PROC-{i}", team_id) for i in range(40)])
    assert sum(1 for o in outcomes if o[0] == "ok") == 2
    assert {o[1] for o in outcomes if o[0] == "refused"} == {"E0006"}
    assert Team.objects.get(team_id=team_id).lock_count == 3
    assert team_stock_read(team_id=team_id).joiners() == 2
    assert_trade_invariants()


def test_a_redis_wipe_mid_life_still_cannot_oversell(racing, real_redis):
    """With Redis counters gone, the database guard alone keeps the team at its target."""
    team_id = attempt(racing, "leader", "LEADER")[1].split(":")[0]
    real_redis.flushdb()
    outcomes = race_threads(racing, [(f"wiped{i}", f"WIPE-{i}", team_id) for i in range(20)])
    assert sum(1 for o in outcomes if o[0] == "ok") == 2
    assert Team.objects.get(team_id=team_id).lock_count == 3
    assert_trade_invariants(check_redis=False)


def test_one_user_twenty_locks_take_limit_one(racing):
    outcomes = race_threads(racing, [("greedy", f"GREEDY-{i}") for i in range(20)])
    assert sum(1 for o in outcomes if o[0] == "ok") == 1
    assert {o[1] for o in outcomes if o[0] == "refused"} == {"E0103"}
    assert Order.objects.filter(user_id="greedy").count() == 1
    assert Team.objects.count() == 1  # the losers' new teams were rolled back with their orders
    assert_trade_invariants()


def test_twenty_retries_of_one_out_trade_no_make_one_order(racing):
    outcomes = race_threads(racing, [("retrier", "SAME-OTN")] * 20)
    assert {o[0] for o in outcomes} == {"ok"}, outcomes
    assert len({o[1] for o in outcomes}) == 1  # identical answers
    assert Order.objects.filter(out_trade_no="SAME-OTN").count() == 1
    assert_trade_invariants()


def test_twenty_retries_of_one_join_take_one_seat(racing):
    team_id = attempt(racing, "leader", "LEADER")[1].split(":")[0]
    outcomes = race_threads(racing, [("joiner", "JOIN-OTN", team_id)] * 20)
    assert {o[0] for o in outcomes} == {"ok"}
    assert len({o[1] for o in outcomes}) == 1
    assert Team.objects.get(team_id=team_id).lock_count == 2
    assert team_stock_read(team_id=team_id).joiners() == 1
    assert_trade_invariants()
