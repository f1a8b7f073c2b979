from datetime import timedelta

import pytest
from django.utils import timezone

from apps.trade.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def test_home_lists_group_buy_prices(client, demo):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert "手写MyBatis：渐进式源码实践" in html
    assert "¥80.00" in html and "¥100.00" in html
    assert "Teams of 3" in html
    assert 'data-goods-id="9890005"' not in html  # tag-restricted, visitor not in the tag


def test_members_see_their_tag_only_offer(client, demo):
    client.login(username="xiaofuge", password="demo")
    assert 'data-goods-id="9890005"' in client.get("/").content.decode()


def test_home_speaks_chinese_by_default_and_english_on_request(client, demo):
    chinese = client.get("/").content.decode()
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="zh-hans"' in chinese
    assert 'lang="en"' in english
    assert "Group-buy offers" in english
    assert "Group-buy offers" not in chinese


def test_goods_page_shows_price_teams_with_countdown_and_statistics(client, demo):
    now = timezone.now()
    team = TeamFactory(activity_id=100123, valid_start_time=now, valid_end_time=now + timedelta(minutes=10))
    response = client.get("/goods/9890001", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert "¥80.00" in html and "save ¥20.00" in html
    assert f'data-team-id="{team.team_id}"' in html
    assert f'data-valid-end="{team.valid_end_time.isoformat()}"' in html
    assert "1/3 joined" in html
    assert "1 team opened so far · 0 complete · 1 shopper joined" in html
    assert "js/countdown" in html


def test_goods_page_for_unknown_or_hidden_goods_is_404(client, demo):
    assert client.get("/goods/nope").status_code == 404
    assert client.get("/goods/9890005").status_code == 404  # hidden from visitors outside the tag
    client.login(username="liergou", password="demo")
    assert client.get("/goods/9890005").status_code == 200


def test_downgrade_shows_an_unavailable_page(client, demo, set_dcc):
    set_dcc("downgradeSwitch", "1")
    response = client.get("/goods/9890001", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert 'data-code="E0003"' in response.content.decode()
    assert client.get("/").status_code == 200


def test_goods_page_masks_other_shoppers_team_leaders(client, demo):
    from apps.trade.tests.helpers import lock_demo_team

    lock_demo_team(("xiaofuge",))
    client.login(username="liergou", password="demo")
    html = client.get("/goods/9890001", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "xi***ge" in html
    assert "xiaofuge" not in html
