"""Staff refunds from admin: confirmation first, bulk, and recorded under the staff user."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from apps.accounts.tests.factories import StaffFactory
from apps.trade.models import Order, Team
from apps.trade.tests.helpers import lock_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def team_id(offer):
    return lock_team(offer, ("demo1", "demo2"))


def test_order_refund_asks_first_then_refunds_and_logs_who(client, team_id):
    staff = StaffFactory()
    client.force_login(staff)
    url = reverse("admin:trade_order_changelist")
    ids = list(Order.objects.values_list("pk", flat=True))
    ask = client.post(url, {"action": "refund", "_selected_action": ids}, HTTP_ACCEPT_LANGUAGE="en")
    assert ask.status_code == 200 and b'name="confirm"' in ask.content
    assert not Order.objects.filter(status=Order.Status.REFUNDED).exists()
    done = client.post(url, {"action": "refund", "_selected_action": ids, "confirm": "yes"})
    assert done.status_code == 302
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.REFUNDED}
    entries = LogEntry.objects.filter(user=staff)
    assert entries.count() == 2
    assert all("refunded by staff (unpaid_unlock)" in entry.change_message for entry in entries)


def test_team_action_refunds_every_live_member(client, team_id):
    client.force_login(StaffFactory())
    team = Team.objects.get(team_id=team_id)
    response = client.post(
        reverse("admin:trade_team_changelist"),
        {"action": "refund_members", "_selected_action": [team.pk], "confirm": "yes"},
    )
    assert response.status_code == 302
    team.refresh_from_db()
    assert team.lock_count == 0
    assert not Order.objects.exclude(status=Order.Status.REFUNDED).exists()
