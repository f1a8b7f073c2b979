import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_healthz_touches_nothing(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_every_dependency(client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database", "redis", "broker"}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_is_503_when_redis_is_down(client, monkeypatch):
    from apps.common import health

    class DownRedis:
        def ping(self):
            raise ConnectionError("connection refused")

    monkeypatch.setattr(health, "get_redis", lambda: DownRedis())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == {"ok": False, "detail": "ConnectionError"}


def test_readyz_is_503_when_the_broker_is_unreachable(client):
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    with override_settings(BROKER_EMBEDDED=False, CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:1//"):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


def test_metrics_are_exported(client):
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"django_http_requests_total_by_view_transport_method_total" in response.content
