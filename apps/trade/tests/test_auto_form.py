"""Auto-form at the deadline with a threshold (Activity.auto_form_percent): the team forms when enough of its
seats are paid, its empty seats filled as virtual seats that are never shoppers, reported apart everywhere."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.tests.factories import StaffFactory
from apps.activities.models import Activity
from apps.activities.tests.factories import Offer, an_offer
from apps.notifications.models import NotifyTask
from apps.trade.models import Order, Team
from apps.trade.tests.helpers import lock_team, settle_orders
from apps.trade.tests.invariants import assert_trade_invariants
from apps.trade.tests.test_settle import PROGRESS_URL, signed_get
from apps.trade.timeouts import auto_form_reached, trade_timeouts_run

pytestmark = pytest.mark.django_db

AUTO_FORM = Activity.GroupType.AUTO_FORM
USERS = ("demo1", "demo2", "demo3", "demo4", "demo5")


def auto_offer(*, target: int, percent: int, group_type: int = AUTO_FORM) -> Offer:
    return an_offer(target=target, group_type=group_type, auto_form_percent=percent)


def at_the_deadline(offer: Offer, *, locked: int, paid: int) -> Team:
    """A team of ``offer`` with ``locked`` members of whom the first ``paid`` paid, after the timeout job ran
    past its deadline."""
    team_id = lock_team(offer, USERS[:locked])
    settle_orders(offer, USERS[:paid])
    trade_timeouts_run(now=timezone.now() + timedelta(minutes=offer.activity.valid_time + 1))
    return Team.objects.get(team_id=team_id)


@pytest.mark.parametrize(
    ("target", "percent", "paid", "forms"),
    [
        (4, 50, 2, True),  # exactly the threshold
        (4, 50, 1, False),  # below it
        (3, 67, 2, False),  # 66.6 % is below 67 %: no rounding up
        (3, 66, 2, True),
        (3, 0, 1, True),  # 0 %: whoever paid
        (3, 0, 0, False),  # ... but at least one
        (3, 100, 2, False),  # 100 %: only a full team (which formed at its last payment anyway)
        (5, 40, 2, True),
    ],
)
def test_the_threshold_decides_at_the_deadline(target, percent, paid, forms):
    offer = auto_offer(target=target, percent=percent)
    team = at_the_deadline(offer, locked=max(1, min(paid + 1, target - 1)), paid=paid)  # with an unpaid one if room
    if forms:
        assert (team.status, team.complete_count, team.lock_count) == (Team.Status.COMPLETE, paid, paid)
        assert team.virtual_count == target - paid
        assert team.formed_at is not None
    else:
        assert (team.status, team.virtual_count, team.formed_at) == (Team.Status.FAILED, 0, None)
        assert not Order.objects.filter(team=team, status__in=[Order.Status.LOCKED, Order.Status.PAID]).exists()
        assert NotifyTask.objects.filter(notify_category="trade_paid2refund", notify_type="MQ").count() == paid
    assert auto_form_reached(complete_count=paid, target_count=target, percent=percent) is forms
    assert_trade_invariants(check_redis=False)


def test_the_threshold_does_not_apply_to_target_required_teams():
    offer = auto_offer(target=3, percent=0, group_type=Activity.GroupType.TARGET_REQUIRED)
    team = at_the_deadline(offer, locked=2, paid=2)
    assert (team.status, team.virtual_count) == (Team.Status.FAILED, 0)
    assert set(Order.objects.filter(team=team).values_list("status", flat=True)) == {Order.Status.REFUNDED}


def test_virtual_seats_are_never_in_the_callback_nor_orders():
    offer = auto_offer(target=5, percent=40)
    team = at_the_deadline(offer, locked=3, paid=2)  # demo3 never paid: released before the team closes
    assert (team.status, team.complete_count, team.lock_count, team.virtual_count) == (Team.Status.COMPLETE, 2, 2, 3)
    (task,) = NotifyTask.objects.filter(notify_category="trade_settlement")
    assert task.parameter_json["outTradeNoList"] == ["OTN-demo1", "OTN-demo2"]
    assert "virtualCount" not in task.parameter_json  # the callback's body stays the reference's
    assert Order.objects.filter(team=team).count() == 3  # two paid, one released: no order for a virtual seat
    assert_trade_invariants(check_redis=False)


def test_a_paid_member_leaving_a_virtually_formed_team_keeps_the_virtual_seats_apart():
    from apps.trade.services import order_refund

    offer = auto_offer(target=3, percent=0)
    team = at_the_deadline(offer, locked=2, paid=2)
    assert order_refund(**offer.in_channel, out_trade_no="OTN-demo2").strategy == "paid_formed"
    team.refresh_from_db()
    assert (team.status, team.complete_count, team.virtual_count) == (Team.Status.COMPLETE_WITH_REFUND, 1, 1)
    assert_trade_invariants(check_redis=False)


def test_team_progress_answers_the_virtual_seats_apart(client):
    offer = auto_offer(target=3, percent=0)
    team = at_the_deadline(offer, locked=1, paid=1)
    query = f"teamId={team.team_id}&source={offer.source}&channel={offer.channel}"
    data = signed_get(client, offer, PROGRESS_URL, query).json()["data"]
    assert (data["status"], data["lockCount"], data["completeCount"], data["virtualCount"]) == (1, 1, 1, 2)
    open_team = lock_team(offer, ("demo7",))
    query = f"teamId={open_team}&source={offer.source}&channel={offer.channel}"
    assert signed_get(client, offer, PROGRESS_URL, query).json()["data"]["virtualCount"] == 0


def test_admin_team_list_shows_the_virtual_seats_apart_and_filters_by_them(client):
    offer = auto_offer(target=3, percent=0)
    team = at_the_deadline(offer, locked=1, paid=1)
    ordinary = lock_team(offer, ("demo7",))
    client.force_login(StaffFactory(is_superuser=True))
    url = reverse("admin:trade_team_changelist")
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<td class="field-seats">1/3 + 2 filled by the platform</td>' in page
    assert '<td class="field-seats">0/3</td>' in page
    virtual = client.get(url, {"virtual": "yes"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert team.team_id in virtual and ordinary not in virtual
    real = client.get(url, {"virtual": "no"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert team.team_id not in real and ordinary in real
