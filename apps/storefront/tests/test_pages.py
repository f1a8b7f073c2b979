import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("load_demo")


def test_home_lists_group_buy_prices(client, demo):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert "手写MyBatis：渐进式源码实践" in html
    assert "¥80.00" in html and "¥100.00" in html
    assert "Teams of 3" in html


def test_home_speaks_chinese_by_default_and_english_on_request(client, demo):
    chinese = client.get("/").content.decode()
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="zh-hans"' in chinese
    assert 'lang="en"' in english
    assert "Group-buy offers" in english
    assert "Group-buy offers" not in chinese
