"""The operators' limits (``apps.trade.limits``) through the lock service and the signed lock API: teams formed
per activity (E0108) and takes per user per day on a channel (E0109)."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from apps.accounts.tests.factories import StaffFactory
from apps.activities.models import Activity
from apps.activities.tests.factories import Offer, an_offer
from apps.channels.signing import signed_headers
from apps.channels.tests.factories import ChannelCredentialFactory
from apps.common.errors import GroupBuyError
from apps.common.shopper_messages import JOIN_OPEN_TEAM, shopper_message
from apps.common.tests.round_trips import sent_together
from apps.trade.lock import LockCommand, LockResult
from apps.trade.models import DailyTakes, FormationQuota, Order, Team
from apps.trade.services import order_lock, order_refund
from apps.trade.tasks import purge_daily_takes
from apps.trade.tests.helpers import lock_team, settle_orders
from apps.trade.tests.invariants import assert_trade_invariants
from apps.trade.timeouts import trade_timeouts_run

pytestmark = pytest.mark.django_db

URL = "/api/v1/gbm/trade/lock_market_pay_order"


@pytest.fixture(autouse=True)
def _english():
    """The messages asserted below are the English ones (the site's default language is zh-hans)."""
    with translation.override("en"):
        yield


def lock(offer: Offer, user: str, team_id: str | None = None, out_trade_no: str = "") -> LockResult:
    return order_lock(
        command=LockCommand(
            user_id=user, source=offer.source, channel=offer.channel, goods_id=offer.goods_id,
            activity_id=offer.activity_id, out_trade_no=out_trade_no or f"OTN-{user}-{offer.activity_id}",
            team_id=team_id,
        )
    )  # fmt: skip


def refusal(offer: Offer, user: str, team_id: str | None = None, out_trade_no: str = "") -> GroupBuyError:
    with pytest.raises(GroupBuyError) as caught:
        lock(offer, user, team_id, out_trade_no)
    return caught.value


def daily_channel(limit: int):
    return ChannelCredentialFactory.create(
        daily_take_limit=limit, notify_hosts="127.0.0.1\nlocalhost", notify_private_allowed=True
    )


def activity_saved(activity: Activity, django_capture_on_commit_callbacks, **changes) -> None:
    """Change the activity the way admin does: the save's after-commit work runs (cache busting, quota reset)."""
    for name, value in changes.items():
        setattr(activity, name, value)
    with django_capture_on_commit_callbacks(execute=True):
        activity.save()


# --- teams formed per activity ---------------------------------------------------------------------------


def test_opening_beyond_the_team_limit_is_e0108_and_the_open_teams_can_still_be_joined():
    offer = an_offer(max_teams_formed=2)
    first = lock(offer, "u1").team_id
    lock(offer, "u2")
    refused = refusal(offer, "u3")
    assert refused.code == "E0108"
    assert refused.data == {"reason": JOIN_OPEN_TEAM}  # not sold out yet: the open teams may be joined
    assert "join one of the open teams" in shopper_message(refused)
    assert lock(offer, "u3", team_id=first).team_id == first
    assert Team.objects.filter(activity=offer.activity).count() == 2
    assert FormationQuota.objects.get(activity=offer.activity).reserved == 2
    assert_trade_invariants()


def test_the_offer_is_sold_out_once_its_teams_have_formed():
    offer = an_offer(target=1, max_teams_formed=1)
    lock_team(offer, ("u1",))
    settle_orders(offer, ("u1",))
    refused = refusal(offer, "u2")
    assert (refused.code, refused.data) == ("E0108", None)
    assert refused.info == "the offer is sold out: its teams have all formed"
    assert "sold out" in shopper_message(refused)


def test_a_team_that_closes_unformed_gives_its_slot_back():
    offer = an_offer(max_teams_formed=1)
    lock_team(offer, ("u1",))
    assert refusal(offer, "u2").code == "E0108"
    order_refund(source=offer.source, channel=offer.channel, out_trade_no="OTN-u1")  # its last member left
    lock(offer, "u2")
    assert FormationQuota.objects.get(activity=offer.activity).reserved == 1


def test_a_team_failed_at_its_deadline_gives_its_slot_back():
    offer = an_offer(max_teams_formed=1)  # target required: an unfilled team fails at its deadline
    lock_team(offer, ("u1", "u2"))
    settle_orders(offer, ("u1",))
    past = timezone.now() - timedelta(minutes=1)
    Team.objects.update(valid_start_time=past - timedelta(minutes=15), valid_end_time=past)
    assert trade_timeouts_run()["failed"] == 1
    assert FormationQuota.objects.get(activity=offer.activity).reserved == 0
    lock(offer, "u3")


def test_an_auto_formed_team_and_a_formed_team_refunded_since_keep_their_slots():
    offer = an_offer(target=3, max_teams_formed=2, group_type=Activity.GroupType.AUTO_FORM)
    lock_team(offer, ("u1",))
    settle_orders(offer, ("u1",))
    past = timezone.now() - timedelta(minutes=1)
    Team.objects.update(valid_start_time=past - timedelta(minutes=15), valid_end_time=past)
    assert trade_timeouts_run()["completed"] == 1  # auto-formed with its one payer
    other = an_offer(target=1, max_teams_formed=1)
    lock_team(other, ("u2",))
    settle_orders(other, ("u2",))
    order_refund(source=other.source, channel=other.channel, out_trade_no="OTN-u2")  # formed, then emptied
    assert Team.objects.get(activity=other.activity).status == Team.Status.FAILED
    assert refusal(other, "u3").code == "E0108"  # it formed: its slot stays taken
    lock(offer, "u3")  # the auto-form activity has one slot left
    assert refusal(offer, "u4").code == "E0108"


def test_teams_opened_before_the_limit_was_set_count_against_it(django_capture_on_commit_callbacks):
    offer = an_offer()
    lock_team(offer, ("u1",))
    lock_team(offer, ("u2",))
    activity_saved(offer.activity, django_capture_on_commit_callbacks, max_teams_formed=3)
    lock(offer, "u3")
    assert refusal(offer, "u4").code == "E0108"
    assert FormationQuota.objects.get(activity=offer.activity).reserved == 3


def test_a_changed_limit_counts_again_from_the_teams(django_capture_on_commit_callbacks):
    offer = an_offer(max_teams_formed=1)
    lock(offer, "u1")
    assert refusal(offer, "u2").code == "E0108"
    activity_saved(offer.activity, django_capture_on_commit_callbacks, max_teams_formed=2)
    assert not FormationQuota.objects.exists()  # dropped with the save, seeded again by the next open
    lock(offer, "u2")
    assert refusal(offer, "u3").code == "E0108"
    activity_saved(offer.activity, django_capture_on_commit_callbacks, max_teams_formed=None)
    lock(offer, "u3")  # no limit any more
    assert not FormationQuota.objects.exists()


# --- takes per user per day ------------------------------------------------------------------------------


def test_the_daily_take_limit_counts_across_the_channels_activities():
    channel = daily_channel(2)
    offers = [an_offer(credential=channel) for _ in range(3)]
    lock(offers[0], "u1")
    lock(offers[1], "u1")
    refused = refusal(offers[2], "u1")
    assert refused.code == "E0109"
    assert "today" in shopper_message(refused)
    lock(offers[2], "u2")  # another shopper
    elsewhere = an_offer(credential=daily_channel(1))
    lock(elsewhere, "u1")  # another channel's u1 is someone else
    assert DailyTakes.objects.get(source=channel.source, user_id="u1").takes == 2
    assert Order.objects.filter(user_id="u1", source=channel.source).count() == 2


def test_a_join_is_a_take_too():
    channel = daily_channel(1)
    first, second = an_offer(credential=channel), an_offer(credential=channel)
    lock(first, "u1")
    team_id = lock(second, "u2").team_id
    assert refusal(second, "u1", team_id=team_id).code == "E0109"
    assert Team.objects.get(team_id=team_id).lock_count == 1  # the refused join took no seat


def test_a_released_lock_keeps_its_take():
    channel = daily_channel(1)
    first, second = an_offer(credential=channel), an_offer(credential=channel)
    lock(first, "u1")
    order_refund(source=channel.source, channel=channel.channel, out_trade_no=f"OTN-u1-{first.activity_id}")
    assert refusal(second, "u1").code == "E0109"


def test_takes_count_per_day_in_the_configured_time_zone(settings):
    channel = daily_channel(1)
    first, second = an_offer(credential=channel), an_offer(credential=channel)
    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14: its date is not UTC's for most of the day
    lock(first, "u1")
    take = DailyTakes.objects.get(user_id="u1")
    assert take.day == timezone.now().astimezone(timezone.get_current_timezone()).date() == timezone.localdate()
    DailyTakes.objects.update(day=take.day - timedelta(days=1))  # the take was yesterday's
    lock(second, "u1")
    assert DailyTakes.objects.get(user_id="u1", day=take.day).takes == 1
    DailyTakes.objects.filter(day__lt=take.day).update(day=take.day - timedelta(days=3))
    assert purge_daily_takes() == 1  # past days' counters go; today's stays
    assert DailyTakes.objects.get().day == take.day


def test_a_retried_lock_is_never_refused_by_either_limit():
    channel = daily_channel(1)
    offer = an_offer(credential=channel, max_teams_formed=1)
    first = lock(offer, "u1", out_trade_no="SAME")
    assert lock(offer, "u1", out_trade_no="SAME") == first  # both limits are reached now; a retry still answers
    assert refusal(an_offer(credential=channel), "u1").code == "E0109"
    assert refusal(offer, "u2").code == "E0108"


def test_a_refusal_rolls_the_whole_lock_back():
    channel = daily_channel(1)
    first, second = an_offer(credential=channel, max_teams_formed=1), an_offer(credential=channel)
    lock(second, "u1")
    assert refusal(first, "u1").code == "E0109"  # the formation slot it reserved went back with the refusal
    assert not Team.objects.filter(activity=first.activity).exists()
    lock(first, "u2")
    assert FormationQuota.objects.get(activity=first.activity).reserved == 1


# --- what the hot path costs ---------------------------------------------------------------------------------


def test_with_both_limits_set_the_lock_costs_one_update_more_per_limit(django_assert_num_queries):
    """Unconfigured, the pinned counts of test_lock.py hold (5 / 6 / 1). Configured, once the counters exist:
    an open adds the quota UPDATE and the take UPDATE, a join the take UPDATE; a retry stays one read."""
    channel = daily_channel(5)
    offer = an_offer(credential=channel, max_teams_formed=10)
    lock(offer, "warm")  # warms the caches and makes the quota row
    lock(an_offer(credential=channel), "u1")  # makes u1's row of the day
    lock(an_offer(credential=channel), "u2")
    with django_assert_num_queries(sent_together(2) + 4 + sent_together(2)):
        team_id = lock(offer, "u1").team_id
    with django_assert_num_queries(sent_together(3) + 3 + sent_together(2)):
        joined = lock(offer, "u2", team_id=team_id)
    with django_assert_num_queries(sent_together(3)):
        assert lock(offer, "u2", team_id=team_id) == joined


@pytest.mark.parametrize("limited", [False, True])
def test_an_open_makes_one_redis_call_its_marker_with_or_without_limits(limited, redis_commands):
    """The limits live in the database; their settings come from the cached activity and credential. The one
    Redis call is the opener's own-teams marker (apps/trade/own_teams.py), which a signed call's nonce rides on."""
    channel = daily_channel(5) if limited else ChannelCredentialFactory.create()
    offer = an_offer(credential=channel, max_teams_formed=10 if limited else None)
    lock(offer, "warm")
    redis_commands.clear()
    lock(offer, "u1")
    assert redis_commands == {"EVALSHA": 1}


# --- the signed API ---------------------------------------------------------------------------------------


def post(client, offer: Offer, user: str, out_trade_no: str):
    body = {"userId": user, "activityId": offer.activity_id, "goodsId": offer.goods_id, "source": offer.source,
            "channel": offer.channel, "outTradeNo": out_trade_no}  # fmt: skip
    raw = json.dumps(body).encode()
    headers = signed_headers(offer.secret, "POST", URL, raw)
    return client.post(URL, data=raw, content_type="application/json", headers=headers, HTTP_ACCEPT_LANGUAGE="en")


def test_the_signed_api_answers_both_refusals_with_their_codes(client):
    channel = daily_channel(2)
    offer = an_offer(credential=channel, max_teams_formed=1)
    first = post(client, offer, "u1", "API-1").json()
    assert first["code"] == "0000"
    sold = post(client, offer, "u2", "API-2")
    assert (sold.status_code, sold.json()["code"]) == (200, "E0108")
    assert "join an open team" in sold.json()["info"]
    post(client, an_offer(credential=channel), "u1", "API-3")
    daily = post(client, an_offer(credential=channel), "u1", "API-4")
    assert (daily.status_code, daily.json()["code"]) == (200, "E0109")
    assert daily.json()["info"] == "the user's daily take limit on this channel is reached"
    assert post(client, offer, "u1", "API-1").json() == first  # the retry is answered, not refused


# --- admin ---------------------------------------------------------------------------------------------------


def test_staff_see_the_counters_in_admin_and_cannot_edit_them(client):
    channel = daily_channel(3)
    lock(an_offer(credential=channel, max_teams_formed=4), "u1")
    client.force_login(StaffFactory(is_superuser=True))
    quotas = client.get(reverse("admin:trade_formationquota_changelist"), HTTP_ACCEPT_LANGUAGE="en")
    takes = client.get(reverse("admin:trade_dailytakes_changelist"), {"q": "u1"}, HTTP_ACCEPT_LANGUAGE="en")
    assert quotas.status_code == takes.status_code == 200
    assert "u1" in takes.content.decode()
    take = DailyTakes.objects.get()
    assert client.get(reverse("admin:trade_dailytakes_change", args=[take.pk])).status_code == 200  # view only
    assert client.post(reverse("admin:trade_dailytakes_change", args=[take.pk]), {"takes": 0}).status_code == 403
