"""From the trading services to the figures: a formed team's formed_at (time to fill), a refund, an auto-form."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.activities.models import Activity
from apps.activities.tests.factories import an_offer
from apps.activities.trial import TrialRequest, trial_calculate
from apps.activities.trial_counts import trial_counts_flush, trial_counts_reset
from apps.analytics.selectors import analytics_report
from apps.trade.models import Team
from apps.trade.services import order_refund
from apps.trade.tests.helpers import lock_team, settle_orders
from apps.trade.timeouts import trade_close_expired_teams

pytestmark = pytest.mark.django_db


def today_report(activity_id: int):
    cache.clear()
    today = timezone.localdate()  # a day each side: a test running across midnight still sees its rows
    return analytics_report(start=today - timedelta(days=1), end=today + timedelta(days=1), activity_id=activity_id)


def test_the_payment_that_fills_a_team_sets_formed_at(offer):
    trial_counts_reset()
    for user in ("u1", "u2", "u3", "u4"):
        trial_calculate(TrialRequest(user_id=user, source=offer.source, channel=offer.channel, goods_id=offer.goods_id))
    trial_counts_flush()
    before = timezone.now()
    team_id = lock_team(offer, ("u1", "u2", "u3"))
    settle_orders(offer, ("u1", "u2"))
    assert Team.objects.get(team_id=team_id).formed_at is None  # not formed yet
    settle_orders(offer, ("u3",))
    team = Team.objects.get(team_id=team_id)
    assert team.status == Team.Status.COMPLETE
    assert team.formed_at is not None and before <= team.formed_at <= timezone.now()

    total = today_report(offer.activity_id).total
    assert (total.trials, total.locks, total.paid, total.revenue) == (4, 3, 3, 3 * team.pay_price)
    assert (total.teams_opened, total.teams_formed, total.teams_formed_virtual) == (1, 1, 0)
    expected = (team.formed_at - team.valid_start_time).total_seconds()
    assert total.fill_median_seconds == pytest.approx(expected, abs=1e-3)


def test_a_refund_after_payment_counts_as_refunded(offer):
    team_id = lock_team(offer, ("u1", "u2"))
    settle_orders(offer, ("u1",))
    order_refund(source=offer.source, channel=offer.channel, out_trade_no="OTN-u1")
    order_refund(source=offer.source, channel=offer.channel, out_trade_no="OTN-u2")  # unpaid: no money back
    total = today_report(offer.activity_id).total
    price = Team.objects.get(team_id=team_id).pay_price
    assert (total.locks, total.paid, total.refunds, total.refunded) == (2, 1, 1, price)
    assert (total.teams_opened, total.teams_failed, total.teams_formed) == (1, 1, 0)


def test_an_auto_formed_team_sets_formed_at():
    offer = an_offer(group_type=Activity.GroupType.AUTO_FORM)
    team_id = lock_team(offer, ("u1", "u2"))
    settle_orders(offer, ("u1",))
    deadline = Team.objects.get(team_id=team_id).valid_end_time
    trade_close_expired_teams(now=deadline + timedelta(seconds=1))
    team = Team.objects.get(team_id=team_id)
    assert team.status == Team.Status.COMPLETE and team.formed_at is not None
    assert today_report(offer.activity_id).total.teams_formed_all == 1
