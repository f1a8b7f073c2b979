"""The DCC endpoints over HTTP: who may change configuration, and how (api.md "DCC").

A change never rides on a session cookie alone: a staff session changes config only by POST with the
CSRF token; a GET (what a link or an ``<img>`` in an email makes the browser send) needs a staff token.
"""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from apps.accounts.tests.factories import StaffFactory, UserFactory
from apps.dcc.runtime import dcc_get

pytestmark = pytest.mark.django_db

UPDATE_URL = "/api/v1/gbm/dcc/update_config"
CONFIG_URL = "/api/v1/gbm/dcc/config"
CHANGE = {"key": "cutRange", "value": "40"}


@pytest.fixture
def session_client() -> Client:
    """A staff browser session with CSRF checks on, as a real browser gets them."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(StaffFactory.create())
    return client


def csrf_token(client: Client) -> str:
    """The token a staff page hands the browser (the admin index renders one in its logout form)."""
    assert client.get("/admin/").status_code == 200
    return client.cookies["csrftoken"].value


def token_header(user) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=user).key}"}


def test_a_staff_session_get_changes_nothing(session_client):
    response = session_client.get(UPDATE_URL, CHANGE)
    assert response.status_code == 403
    assert response.json()["code"] == "0403"
    assert "POST" in response.json()["info"]
    assert dcc_get("cutRange") == 100


def test_a_staff_session_head_changes_nothing(session_client):
    assert session_client.head(UPDATE_URL, CHANGE).status_code == 403
    assert dcc_get("cutRange") == 100


def test_a_staff_session_post_without_the_csrf_token_changes_nothing(session_client):
    csrf_token(session_client)  # the browser holds the CSRF cookie; a cross-site form cannot read it
    response = session_client.post(f"{UPDATE_URL}?key=cutRange&value=40", content_type="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "0403"
    assert dcc_get("cutRange") == 100


def test_a_staff_session_post_with_the_csrf_token_changes_config(session_client, django_capture_on_commit_callbacks):
    token = csrf_token(session_client)
    with django_capture_on_commit_callbacks(execute=True):
        response = session_client.post(
            f"{UPDATE_URL}?key=cutRange&value=40", content_type="application/json", HTTP_X_CSRFTOKEN=token
        )
    assert (response.status_code, response.json()["data"]) == (200, True)
    assert dcc_get("cutRange") == 40


def test_a_staff_token_get_changes_config(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().get(UPDATE_URL, CHANGE, **token_header(StaffFactory()))
    assert (response.status_code, response.json()["data"]) == (200, True)
    assert dcc_get("cutRange") == 40


def test_a_shopper_token_is_403_either_way():
    headers = token_header(UserFactory())
    assert Client().get(UPDATE_URL, CHANGE, **headers).status_code == 403
    assert Client().post(f"{UPDATE_URL}?key=cutRange&value=40", **headers).status_code == 403
    assert Client().get(CONFIG_URL, **headers).status_code == 403
    assert dcc_get("cutRange") == 100


def test_config_stays_readable_by_a_staff_session_and_a_staff_token(session_client):
    by_session = session_client.get(CONFIG_URL)
    assert by_session.status_code == 200
    assert by_session.json()["data"]["cutRange"] == "100"
    by_token = Client().get(CONFIG_URL, **token_header(StaffFactory()))
    assert by_token.status_code == 200


def test_the_schema_documents_both_methods(session_client):
    schema = session_client.get("/api/schema/", {"format": "json"}).json()
    operations = schema["paths"][UPDATE_URL]
    assert {"get", "post"} <= set(operations)
    assert {operations["get"]["operationId"], operations["post"]["operationId"]} == {
        "dcc_update_config",
        "dcc_update_config_post",
    }
    assert "Token" in operations["get"]["description"]
