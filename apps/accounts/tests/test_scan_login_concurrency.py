"""Races on real Redis (fakeredis runs another Lua) and MariaDB: one consumer per ticket, one user per openid."""

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.accounts.models import WeixinIdentity
from apps.accounts.services import (
    LOGIN_TICKET_CONFIRM_GRACE_MS,
    login_ticket_confirm,
    login_ticket_consume,
    login_ticket_issue,
    login_ticket_key,
    weixin_user_get_or_create,
)
from apps.accounts.tests.factories import UserFactory
from apps.accounts.tests.helpers import CHECK_API, TICKET_API, race
from apps.common.errors import GroupBuyError

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_two_simultaneous_polls_exactly_one_gets_the_token(real_redis):
    user = UserFactory(username="racer")
    browser = APIClient()
    ticket = browser.get(TICKET_API).json()["data"]["ticket"]
    login_ticket_confirm(ticket=ticket, user=user)
    tabs = [APIClient(), APIClient()]  # two tabs of the issuing browser: the same session cookie
    for tab in tabs:
        tab.cookies[settings.SESSION_COOKIE_NAME] = browser.cookies[settings.SESSION_COOKIE_NAME].value

    results = race(lambda index: tabs[index].get(CHECK_API, {"ticket": ticket}).json()["data"], 2)

    assert sorted(result["status"] for result in results) == ["confirmed", "expired"]
    (winner,) = [result for result in results if result["status"] == "confirmed"]
    assert winner["token"] == Token.objects.get(user=user).key
    assert not real_redis.exists(login_ticket_key(ticket))


def test_twenty_pollers_one_winner(real_redis):
    user = UserFactory(username="crowd")
    ticket = login_ticket_issue(owner="tab-owner").ticket
    login_ticket_confirm(ticket=ticket, user=user)

    polls = race(lambda _: login_ticket_consume(ticket=ticket, owner="tab-owner"), 20)

    assert [poll.user for poll in polls if poll.status == "confirmed"] == [user]
    assert {poll.status for poll in polls if poll.user is None} == {"expired"}


def test_twenty_accounts_confirm_at_once_the_first_wins(real_redis):
    users = [UserFactory(username=f"phone{i}") for i in range(20)]
    ticket = login_ticket_issue(owner="tab-owner").ticket

    def confirm(index: int) -> str:
        try:
            login_ticket_confirm(ticket=ticket, user=users[index])
            return f"ok:{users[index].pk}"
        except GroupBuyError as exc:
            return exc.code

    outcomes = race(confirm, 20)
    winners = [outcome for outcome in outcomes if outcome.startswith("ok:")]
    assert len(winners) == 1
    assert set(outcomes) - set(winners) == {"0002"}  # "ticket already confirmed by another account"
    assert f"ok:{login_ticket_consume(ticket=ticket, owner='tab-owner').user.pk}" == winners[0]


def test_scripts_on_real_redis_keep_ttl_binding_and_grace(real_redis):
    user = UserFactory(username="lua")
    ticket = login_ticket_issue(owner="mine").ticket
    key = login_ticket_key(ticket)
    real_redis.expire(key, 100)
    login_ticket_confirm(ticket=ticket, user=user)
    assert 95 <= real_redis.ttl(key) <= 100  # HSET kept the TTL
    # Another session, or none, sees waiting and consumes nothing (api.md "Login").
    assert login_ticket_consume(ticket=ticket, owner="theirs").status == "waiting"
    assert login_ticket_consume(ticket=ticket, owner="").status == "waiting"
    real_redis.hset(login_ticket_key(ticket), "owner", "")  # an unbound ticket: nobody's
    assert login_ticket_consume(ticket=ticket, owner="").status == "waiting"
    real_redis.hdel(login_ticket_key(ticket), "owner")
    assert login_ticket_consume(ticket=ticket, owner="").status == "waiting"
    real_redis.hset(login_ticket_key(ticket), "owner", "mine")

    late = login_ticket_issue(owner="mine").ticket
    real_redis.pexpire(login_ticket_key(late), 500)
    login_ticket_confirm(ticket=late, user=user)
    assert real_redis.pttl(login_ticket_key(late)) > LOGIN_TICKET_CONFIRM_GRACE_MS - 1000

    assert login_ticket_consume(ticket=ticket, owner="mine").user == user
    assert login_ticket_consume(ticket=ticket, owner="mine").status == "expired"


def test_concurrent_first_scans_of_one_openid_make_one_user(mariadb, real_redis):
    """WeChat re-delivers an event it got no answer to: the unique openid keeps it to one user."""
    users = race(lambda _: weixin_user_get_or_create(openid="oRaceOpenid0123456789"), 10)
    assert len({user.pk for user in users}) == 1
    assert WeixinIdentity.objects.filter(openid="oRaceOpenid0123456789").count() == 1


def test_an_openid_differing_only_in_case_is_never_the_same_user(mariadb):
    """MariaDB's default collation matches case-insensitively; openids are case-sensitive."""
    weixin_user_get_or_create(openid="oCaseSensitive")
    with pytest.raises(GroupBuyError) as refused:
        weixin_user_get_or_create(openid="ocasesensitive")
    assert refused.value.code == "0003"
    assert WeixinIdentity.objects.count() == 1
