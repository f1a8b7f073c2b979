"""The API lane (apps/common/lane.py): what every lane answer keeps without the rest of the middleware stack."""

import pytest
from django.contrib.auth import get_user_model
from prometheus_client import REGISTRY

pytestmark = [pytest.mark.django_db, pytest.mark.urls("apps.common.tests.urls_lane")]

ECHO = "/api/v1/test/lane/echo"


def lane_count(endpoint: str, code: str) -> float:
    return REGISTRY.get_sample_value("gbm_api_requests_total", {"endpoint": endpoint, "code": code}) or 0.0


def test_a_lane_answer_skips_the_stack_but_keeps_request_id_security_headers_and_metrics(client):
    before = lane_count("test_echo", "0000")
    response = client.post(ECHO, data=b"{}", content_type="application/json", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200 and response.json()["code"] == "0000"
    assert response.json()["data"] == {"session": False, "user": False}  # sessions and auth never ran
    assert response["X-Request-ID"] == "abc-123"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] and response["Cross-Origin-Opener-Policy"]
    assert response["Content-Type"] == "application/json"
    assert lane_count("test_echo", "0000") == before + 1


def test_an_unusable_request_id_is_replaced(client):
    response = client.post(ECHO, data=b"{}", content_type="application/json", headers={"X-Request-ID": "a b\nc"})
    assert response["X-Request-ID"] != "a b\nc" and len(response["X-Request-ID"]) == 32


def test_a_session_cookie_gives_a_lane_view_nothing(client):
    admin = get_user_model().objects.create_superuser("lane-admin", password="pw-lane-admin")
    client.force_login(admin)
    response = client.post(ECHO, data=b"{}", content_type="application/json")
    assert response.json()["data"] == {"session": False, "user": False}
    assert "Set-Cookie" not in response.headers


def test_a_domain_error_is_its_envelope_in_the_callers_language(client):
    before = lane_count("test_refuse", "E0006")
    english = client.post(
        "/api/v1/test/lane/refuse", content_type="application/json", headers={"Accept-Language": "en"}
    )
    assert english.status_code == 200
    assert english.json() == {"code": "E0006", "info": "the team is already full", "data": None}
    assert english["Content-Language"] == "en" and "Accept-Language" in english["Vary"]
    chinese = client.post("/api/v1/test/lane/refuse", content_type="application/json")
    assert chinese.json()["code"] == "E0006" and chinese.json()["info"] != "the team is already full"
    assert lane_count("test_refuse", "E0006") == before + 2


def test_a_crash_is_0001_with_the_request_id_and_a_lost_database_0007(client):
    crash = client.post("/api/v1/test/lane/crash", content_type="application/json", headers={"X-Request-ID": "r-1"})
    assert crash.status_code == 500
    assert crash.json()["code"] == "0001" and crash.json()["data"] == {"requestId": "r-1"}
    assert crash["X-Request-ID"] == "r-1" and crash["X-Content-Type-Options"] == "nosniff"
    down = client.post("/api/v1/test/lane/db_down", content_type="application/json")
    assert down.status_code == 503 and down.json()["code"] == "0007"


def test_another_method_is_405_in_the_envelope(client):
    response = client.get(ECHO)
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json()["code"] == "0002"


def test_a_host_outside_allowed_hosts_is_refused(client, settings):
    settings.ALLOWED_HOSTS = ["shop.example"]
    response = client.post(ECHO, content_type="application/json", headers={"Host": "evil.example"})
    assert response.status_code == 400 and response.json()["code"] == "0002"


def test_the_host_check_follows_allowed_hosts_as_they_change(client, settings):
    def status(host: str, **headers: str) -> int:
        return client.post(ECHO, content_type="application/json", headers={"Host": host, **headers}).status_code

    settings.ALLOWED_HOSTS = ["shop.example"]
    assert status("shop.example") == status("shop.example:8443") == 200
    assert status("shop.example.evil") == status("shop.example@evil") == 400
    settings.ALLOWED_HOSTS = ["other.example"]  # a host admitted a moment ago is not remembered as admitted
    assert status("shop.example") == 400 and status("other.example") == 200
    settings.USE_X_FORWARDED_HOST = True  # then the forwarded host is the one checked, as Django checks it
    assert status("other.example", **{"X-Forwarded-Host": "evil.example"}) == 400
    assert status("evil.example", **{"X-Forwarded-Host": "other.example"}) == 200


def stack_count() -> float:
    return REGISTRY.get_sample_value("django_http_requests_before_middlewares_total") or 0.0


def test_other_paths_still_take_the_whole_stack(client):
    before = stack_count()
    client.post(ECHO, data=b"{}", content_type="application/json")
    assert stack_count() == before  # the lane answered above django-prometheus
    response = client.get("/healthz")
    assert response.status_code == 200 and response["X-Request-ID"]
    assert stack_count() == before + 1


def test_every_lane_endpoint_has_its_success_series_before_any_request():
    from apps.common.lane import lane_view

    lane_view(name="test_never_called", methods=("POST",))(lambda request: None)
    assert REGISTRY.get_sample_value("gbm_api_requests_total", {"endpoint": "test_never_called", "code": "0000"}) == 0
