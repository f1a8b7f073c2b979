"""Staff refunds move money: the order and team actions need ``trade.change_order``; view-only staff
neither see nor run them."""

import pytest
from django.urls import reverse

from apps.accounts.tests.admin_actions import client_of, offered_actions, post_action, staff_with
from apps.trade.models import Order, Team
from apps.trade.tests.helpers import lock_team

pytestmark = pytest.mark.django_db

ORDERS_URL = reverse("admin:trade_order_changelist")
TEAMS_URL = reverse("admin:trade_team_changelist")


@pytest.fixture
def team(offer) -> Team:
    return Team.objects.get(team_id=lock_team(offer, ("demo1", "demo2")))


def test_view_only_staff_cannot_refund_orders_or_teams(team):
    viewer = client_of(staff_with("trade.view_order", "trade.view_team"))
    assert "refund" not in offered_actions(viewer, ORDERS_URL)
    assert "refund_members" not in offered_actions(viewer, TEAMS_URL)
    ids = list(Order.objects.values_list("pk", flat=True))
    post_action(viewer, ORDERS_URL, "refund", ids, confirm="yes")
    post_action(viewer, TEAMS_URL, "refund_members", [team.pk], confirm="yes")
    assert not Order.objects.filter(status=Order.Status.REFUNDED).exists()


def test_staff_with_change_order_refunds(team):
    operator = client_of(staff_with("trade.view_order", "trade.view_team", "trade.change_order"))
    assert "refund" in offered_actions(operator, ORDERS_URL)
    assert "refund_members" in offered_actions(operator, TEAMS_URL)
    assert post_action(operator, TEAMS_URL, "refund_members", [team.pk], confirm="yes").status_code == 302
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.REFUNDED}
