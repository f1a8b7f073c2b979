from datetime import timedelta

import pytest
from django.utils import timezone

from apps.activities.tests.factories import Offer, an_offer
from apps.payments.tests.helpers import login
from apps.tags.services import crowd_tag_add_members
from apps.tags.tests.factories import CrowdTagFactory
from apps.trade.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def members_only(mall_offer) -> Offer:
    """An offer of the mall that only xiaofuge's and liergou's crowd sees and joins."""
    crowd = CrowdTagFactory.create()
    crowd_tag_add_members(tag=crowd, user_ids=["xiaofuge", "liergou"])
    return an_offer(credential=mall_offer.credential, members_only=crowd)


def test_home_lists_group_buy_prices(client, mall_offer, members_only):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert mall_offer.sku.goods_name in html
    assert "¥80.00" in html and "¥100.00" in html
    assert "Teams of 3" in html
    assert f'data-goods-id="{members_only.goods_id}"' not in html  # tag-restricted, visitor not in the tag


def test_members_see_their_tag_only_offer(client, members_only):
    login(client, "xiaofuge")
    assert f'data-goods-id="{members_only.goods_id}"' in client.get("/").content.decode()


def test_home_speaks_chinese_by_default_and_english_on_request(client, mall_offer):
    chinese = client.get("/").content.decode()
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="zh-hans"' in chinese
    assert 'lang="en"' in english
    assert "Group-buy offers" in english
    assert "Group-buy offers" not in chinese


def test_goods_page_shows_price_teams_with_countdown_and_statistics(client, mall_offer):
    now = timezone.now()
    team = TeamFactory(
        activity=mall_offer.activity, **mall_offer.in_channel, valid_start_time=now,
        valid_end_time=now + timedelta(minutes=10),
    )  # fmt: skip
    response = client.get(f"/goods/{mall_offer.goods_id}", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert "¥80.00" in html and "save ¥20.00" in html
    assert f'data-team-id="{team.team_id}"' in html
    assert f'data-valid-end="{team.valid_end_time.isoformat()}"' in html
    assert "1/3 joined" in html
    assert "1 team opened so far · 0 complete · 1 shopper joined" in html
    assert "js/countdown" in html


def test_goods_page_for_unknown_or_hidden_goods_is_404(client, members_only):
    assert client.get("/goods/nope").status_code == 404
    assert client.get(f"/goods/{members_only.goods_id}").status_code == 404  # hidden from visitors outside the tag
    login(client, "liergou")
    assert client.get(f"/goods/{members_only.goods_id}").status_code == 200


def test_downgrade_shows_an_unavailable_page(client, mall_offer, set_dcc):
    set_dcc("downgradeSwitch", "1")
    response = client.get(f"/goods/{mall_offer.goods_id}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert 'data-code="E0003"' in response.content.decode()
    assert client.get("/").status_code == 200


def test_goods_page_masks_other_shoppers_team_leaders(client, mall_offer):
    from apps.trade.tests.helpers import lock_team

    lock_team(mall_offer, ("xiaofuge",))
    login(client, "liergou")
    html = client.get(f"/goods/{mall_offer.goods_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "xi***ge" in html
    assert "xiaofuge" not in html
