"""The API speaks only the envelope: successes, domain errors, DRF errors and crashes alike."""

import pytest
from django.db import InterfaceError, OperationalError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.accounts.tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

UPDATE_URL = "/api/v1/gbm/dcc/update_config"


@pytest.fixture
def staff_client():
    """A staff token: the one credential that may change configuration by GET (api.md "DCC")."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=StaffFactory()).key}")
    return client


def test_success_is_wrapped(staff_client):
    response = staff_client.get(UPDATE_URL, {"key": "cutRange", "value": "50"})
    assert response.status_code == 200
    assert response.json() == {"code": "0000", "info": response.json()["info"], "data": True}


def test_domain_error_keeps_its_code(staff_client):
    response = staff_client.get(UPDATE_URL, {"key": "noSuchKey", "value": "1"})
    body = response.json()
    assert response.status_code == 400
    assert body["code"] == "0002"
    assert "noSuchKey" in body["info"]


def test_missing_fields_are_0002_with_field_errors(staff_client):
    response = staff_client.get(UPDATE_URL)
    body = response.json()
    assert response.status_code == 400
    assert body["code"] == "0002"
    assert set(body["data"]) == {"key", "value"}


def test_anonymous_is_401_and_shoppers_are_403():
    anonymous = APIClient().get(UPDATE_URL, {"key": "cutRange", "value": "1"})
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "0401"

    shopper = APIClient()
    shopper.force_authenticate(UserFactory())
    forbidden = shopper.get(UPDATE_URL, {"key": "cutRange", "value": "1"})
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "0403"


def test_unknown_api_path_answers_json_not_html(client):
    response = client.get("/api/v1/nowhere")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "0404"


def test_wrong_method_is_enveloped(staff_client):
    response = staff_client.delete(UPDATE_URL)
    assert response.status_code == 405
    assert response.json()["code"] == "0002"


def test_crash_is_0001_with_request_id_and_no_trace(staff_client, monkeypatch, caplog):
    def explode(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("apps.dcc.apis.dcc_update", explode)
    response = staff_client.get(UPDATE_URL, {"key": "cutRange", "value": "5"}, HTTP_X_REQUEST_ID="req-abc-1")
    body = response.json()
    assert response.status_code == 500
    assert body["code"] == "0001"
    assert body["data"] == {"requestId": "req-abc-1"}
    assert response["X-Request-ID"] == "req-abc-1"
    assert "database on fire" not in response.content.decode()
    assert any("req-abc-1" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (OperationalError(2013, "Lost connection to server during query"), 503, "0007"),
        (OperationalError(1927, "Connection was killed"), 503, "0007"),
        (OperationalError(1213, "Deadlock found when trying to get lock"), 503, "0007"),
        (InterfaceError(0, ""), 503, "0007"),
        (OperationalError("database is locked"), 503, "0007"),  # SQLite
        (OperationalError(1054, "Unknown column 'x' in 'field list'"), 500, "0001"),  # a bug, not an outage
    ],
)
def test_a_database_outage_asks_for_a_retry_and_a_bug_stays_a_500(staff_client, monkeypatch, error, status, code):
    def fail(**kwargs):
        raise error

    monkeypatch.setattr("apps.dcc.apis.dcc_update", fail)
    response = staff_client.get(UPDATE_URL, {"key": "cutRange", "value": "5"}, HTTP_X_REQUEST_ID="req-db-1")
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert response.json()["data"] == {"requestId": "req-db-1"}


def test_request_id_is_generated_when_missing_or_unsafe(client):
    generated = client.get("/healthz")
    assert len(generated["X-Request-ID"]) == 32
    unsafe = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert unsafe["X-Request-ID"] != "bad id\nwith newline"


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/gbm/dcc/update_config" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


@pytest.fixture
def private_docs(settings):
    settings.API_DOCS_PUBLIC = False  # production's default


def test_private_schema_is_for_staff_only(private_docs, client, staff_client):
    assert client.get("/api/schema/").status_code == 401
    shopper = APIClient()
    shopper.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=UserFactory()).key}")
    assert shopper.get("/api/schema/").status_code == 403
    by_token = staff_client.get("/api/schema/")
    assert by_token.status_code == 200
    assert b"/api/v1/gbm/dcc/update_config" in by_token.content
    client.force_login(StaffFactory())
    assert client.get("/api/schema/").status_code == 200


def test_private_docs_send_a_browser_to_the_admin_login(private_docs, client):
    anonymous = client.get("/api/docs/")
    assert anonymous.status_code == 302
    assert anonymous["Location"] == "/admin/login/?next=%2Fapi%2Fdocs%2F"
    client.force_login(UserFactory())
    assert client.get("/api/docs/").status_code == 302
    client.force_login(StaffFactory())
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
