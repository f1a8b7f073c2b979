"""Auto-joiners racing on real MariaDB and Redis: no team above its target, everyone seated somewhere (a team
closest to full while it has a seat, else a new one), one order each, Redis agreeing with the database."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from apps.activities.tests.factories import Offer
from apps.payments.models import PayOrder
from apps.payments.orders import mall_order_auto_join
from apps.payments.tests.helpers import create_order, user
from apps.trade.models import Order, Team
from apps.trade.tests.helpers import in_thread
from apps.trade.tests.invariants import assert_trade_invariants

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def services_offer(mariadb, real_redis, mall_offer) -> Offer:
    return mall_offer


def near_full_team(offer: Offer, leader: str, joiner: str) -> str:
    """A team of 3 with one seat left."""
    team_id = create_order(leader, offer.goods_id).team_id
    create_order(joiner, offer.goods_id, team_id=team_id)
    return team_id


def race(offer: Offer, usernames: list[str]) -> dict[str, tuple[str, bool] | str]:
    """Every shopper presses "join the team closest to full" at once: {username: (team id, joined) or code}."""
    shoppers = [user(name) for name in usernames]  # they exist before the race, as logged-in ones do

    def press(shopper):
        outcome = mall_order_auto_join(user=shopper, goods_id=offer.goods_id)
        return outcome.order.team_id, outcome.joined

    with ThreadPoolExecutor(len(shoppers)) as pool:
        answers = list(pool.map(in_thread(press), shoppers))
    return dict(zip(usernames, answers, strict=True))


def assert_everyone_seated_once(answers: dict) -> None:
    refused = {name: answer for name, answer in answers.items() if not isinstance(answer, tuple)}
    assert refused == {}, refused  # opening a team is always possible here: nobody is left without a seat
    for name, (team_id, _) in answers.items():
        (order,) = Order.objects.filter(user_id=name)
        assert order.team_id == team_id
        assert PayOrder.objects.get(user__username=name).status == PayOrder.Status.PAY_WAIT
    assert not Team.objects.filter(lock_count__gt=3).exists()
    assert_trade_invariants()


def test_twelve_auto_joiners_on_one_near_full_team(services_offer):
    team_id = near_full_team(services_offer, "lead", "second")
    answers = race(services_offer, [f"racer{i}" for i in range(12)])
    assert_everyone_seated_once(answers)
    assert Team.objects.get(team_id=team_id).lock_count == 3
    took_the_seat = [name for name, (team, _) in answers.items() if team == team_id]
    assert len(took_the_seat) == 1 and answers[took_the_seat[0]] == (team_id, True)
    # The others opened teams or joined one a faster racer had just opened; "joined" says which, truly.
    for name, (team, joined) in answers.items():
        leader = Order.objects.filter(team_id=team).order_by("id").first()
        assert leader is not None and joined is (leader.user_id != name)


def test_auto_joiners_fill_every_near_full_team_before_opening_new_ones(services_offer):
    near_full = {near_full_team(services_offer, f"lead{i}", f"second{i}") for i in range(3)}
    answers = race(services_offer, [f"racer{i}" for i in range(10)])
    assert_everyone_seated_once(answers)
    assert {team.lock_count for team in Team.objects.filter(team_id__in=near_full)} == {3}
    seated = Counter(team for team, _ in answers.values())
    assert all(seated[team_id] == 1 for team_id in near_full)
