"""The hot path's plain-SQL team reads (apps/trade/selectors.py) answer what the ORM answers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.trade.models import Order, Team
from apps.trade.selectors import lock_reads, locked_order, own_live_teams, team_seats
from apps.trade.tests.factories import OrderFactory, TeamFactory

pytestmark = pytest.mark.django_db


def _orm_own_live_teams(*, user_id, activity_id, source, channel):
    orders = Order.objects.filter(
        user_id=user_id, activity_id=activity_id, source=source, channel=channel, status__in=[0, 1],
        team__source=source, team__channel=channel,
    ).select_related("team")  # fmt: skip
    return sorted(
        (o.team.team_id, o.team.target_count, o.team.complete_count, o.team.lock_count, o.team.valid_start_time,
         o.team.valid_end_time, o.team.status, o.out_trade_no)
        for o in orders
    )  # fmt: skip


def test_own_live_teams_are_the_orms_in_every_state():
    now = timezone.now()
    open_team = TeamFactory(lock_count=2)
    activity = open_team.activity
    expired = TeamFactory(activity=activity, valid_start_time=now - timedelta(hours=1),
                          valid_end_time=now - timedelta(minutes=1))  # fmt: skip
    complete = TeamFactory(activity=activity, status=Team.Status.COMPLETE, lock_count=3, complete_count=3)
    refunded = TeamFactory(activity=activity)
    other_channel = TeamFactory(activity=activity, source="s02")
    for n, (team, status) in enumerate(
        [(open_team, 0), (expired, 0), (complete, 1), (refunded, 2), (other_channel, 0)]
    ):
        OrderFactory(team=team, user_id="u1", status=status, source=team.source, biz_id=f"b{n}")
    OrderFactory(team=open_team, user_id="u2", biz_id="other-user")
    scope = {"user_id": "u1", "activity_id": activity.activity_id, "source": "s01", "channel": "c01"}
    found = own_live_teams(**scope)
    assert sorted(tuple(team) for team in found) == _orm_own_live_teams(**scope)
    assert {team.team_id for team in found} == {open_team.team_id, expired.team_id, complete.team_id}
    assert all(team.valid_end_time.tzinfo is not None for team in found)


def test_the_lock_reads_are_the_orms():
    order = OrderFactory(user_id="u1", out_trade_no="OTN-1", biz_id="b1")
    OrderFactory(user_id="u1", out_trade_no="OTN-2", activity=order.activity, biz_id="b2", status=2)
    reads = lock_reads(source="s01", channel="c01", out_trade_no="OTN-1", user_id="u1",
                       activity_id=order.activity_id)  # fmt: skip
    expected = Order.objects.filter(pk=order.pk).values_list(
        "order_id", "user_id", "team", "status", "biz_id", "original_price", "deduction_price", "pay_price"
    )
    assert (tuple(reads.existing), reads.live_biz_ids) == (expected[0], frozenset({"b1"}))
    assert locked_order(source="s01", channel="c01", out_trade_no="OTN-1") == reads.existing
    assert locked_order(source="s02", channel="c01", out_trade_no="OTN-1") is None
    team = order.team
    assert (
        tuple(team_seats(team_id=team.team_id, source="s01", channel="c01"))
        == Team.objects.filter(pk=team.pk).values_list(
            "team_id", "activity", "status", "lock_count", "target_count", "valid_end_time"
        )[0]
    )
    assert team_seats(team_id=team.team_id, source="s01", channel="c02") is None
