"""Shoppers get the site's own 404 and 500 pages in their language (never Django's debug or bare pages);
the API keeps its JSON envelope; the favicon is served; messages of each level look different."""

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.test import Client
from django.urls import path

from apps.payments.tests.helpers import create_order, login
from config.urls import urlpatterns as site_urls

pytestmark = pytest.mark.django_db


def boom(request) -> HttpResponse:
    raise RuntimeError("a bug")


urlpatterns = [path("boom", boom), path("api/v1/boom", boom), *site_urls]
handler404 = "apps.common.views.page_not_found"
handler500 = "apps.common.views.server_error"


NOT_FOUND_WORDS = {"en": "We could not find this page", "zh-hans": 'lang="zh-hans"'}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_unknown_goods_order_and_team_answer_the_custom_404(mall_offer, language):
    assert not settings.DEBUG
    create_order("xiaofuge", mall_offer.goods_id)
    client = login(Client(), "xiaofuge")
    for url in ("/goods/0000000", "/cashier/000000000000000000", "/teams/00000000", "/no/such/page"):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        html = response.content.decode()
        assert response.status_code == 404, url
        assert 'data-error="404"' in html and f'lang="{language}"' in html, url
        assert NOT_FOUND_WORDS[language] in html
        assert "Traceback" not in html and "Not Found</h1>" not in html


def test_a_failing_page_answers_the_custom_500_and_the_api_keeps_json(settings):
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    response = client.get("/boom", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 500
    assert 'data-error="500"' in html and "Something went wrong" in html and 'lang="en"' in html
    assert "RuntimeError" not in html and "a bug" not in html
    assert 'lang="zh-hans"' in client.get("/boom", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    api = client.get("/api/v1/boom")
    assert api.status_code == 500 and api.json()["code"] == "0001"


def test_an_unknown_api_path_keeps_the_json_envelope(client):
    response = client.get("/api/v1/no-such-endpoint")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "0404"


def test_the_favicon_is_linked_and_served(client, settings):
    settings.WHITENOISE_USE_FINDERS = True  # what collectstatic gives production; tests have no STATIC_ROOT
    html = client.get("/login").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    response = Client().get("/static/favicon.svg")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(response.streaming_content)


def test_message_levels_have_their_own_look():
    css = Path(finders.find("css/site.css")).read_text()
    for level in ("success", "error", "warning", "info"):
        assert f".message.{level} {{" in css, level
