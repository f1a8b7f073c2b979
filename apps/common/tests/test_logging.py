"""Structured logs: Django's, Celery's and our records leave through one formatter with their context."""

import io
import json
import logging
from typing import Any

import pytest
import structlog
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.accounts.tests.factories import StaffFactory
from apps.channels.signing import signed_headers
from apps.channels.tests.factories import ChannelCredentialFactory
from apps.common.locks import single_instance
from apps.common.logging import StructuredFormatter, bound_context
from apps.notifications.tasks import deliver_due_notify_tasks

pytestmark = pytest.mark.django_db


def configured_formatter() -> logging.Formatter:
    """The console handler's formatter, built the way ``dictConfig`` builds it from ``settings.LOGGING``."""
    config: dict[str, Any] = django_settings.LOGGING
    spec = dict(config["formatters"][config["handlers"]["console"]["formatter"]])
    factory = import_string(spec.pop("()"))
    return factory(**spec)


@pytest.fixture
def json_lines(settings):
    """The JSON lines the configured console formatter writes while the test runs."""
    settings.LOG_FORMAT = "json"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(configured_formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def the_line(lines: list[dict], event_part: str) -> dict:
    matching = [line for line in lines if event_part in line["event"]]
    assert len(matching) == 1, lines
    return matching[0]


def test_the_console_handler_uses_the_structured_formatter():
    handlers = [h for h in logging.getLogger().handlers if isinstance(h.formatter, StructuredFormatter)]
    assert handlers, "settings.LOGGING must route the root logger through StructuredFormatter"


def test_a_django_log_during_a_request_is_a_json_line_with_the_request_id(client, json_lines):
    response = client.get("/no-such-page", HTTP_X_REQUEST_ID="req-log-1")
    logging.getLogger("apps.common.tests").info("after the request")

    assert response["X-Request-ID"] == "req-log-1"
    line = the_line(json_lines(), "Not Found: /no-such-page")  # django.request's own %-formatted record
    assert line["request_id"] == "req-log-1"
    assert line["level"] == "warning"
    assert line["logger"] == "django.request"
    assert line["status_code"] == 404
    assert line["request"] == "GET /no-such-page"
    assert line["timestamp"].endswith("Z")
    assert "request_id" not in the_line(json_lines(), "after the request")


def test_a_crash_logs_the_exception_with_request_id_and_user(monkeypatch, json_lines):
    def explode(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("apps.dcc.apis.dcc_update", explode)
    staff = StaffFactory()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    response = client.get(
        "/api/v1/gbm/dcc/update_config", {"key": "cutRange", "value": "5"}, HTTP_X_REQUEST_ID="req-crash-1"
    )

    assert response.status_code == 500
    line = the_line(json_lines(), "unhandled error on API request")
    assert line["request_id"] == "req-crash-1"
    assert line["level"] == "error"
    assert "Traceback (most recent call last)" in line["exception"]
    assert "RuntimeError: database on fire" in line["exception"]
    assert (line["user_id"], line["username"]) == (staff.pk, staff.username)


def test_a_crash_in_a_signed_call_logs_the_calling_channel_as_the_user(monkeypatch, client, json_lines):
    class StoppedClock:
        @staticmethod
        def time() -> float:
            raise RuntimeError("clock on fire")

    monkeypatch.setattr("apps.channels.apis.time", StoppedClock)  # the ping handler's clock only
    ChannelCredentialFactory(source="s09", channel="c09", secret="log-secret")
    url, raw = "/api/v1/gbm/channel/ping", b'{"source":"s09","channel":"c09"}'
    headers = {**signed_headers("log-secret", "POST", url, raw), "X-Request-ID": "req-signed-1"}
    response = client.post(url, data=raw, content_type="application/json", headers=headers)

    assert response.status_code == 500
    line = the_line(json_lines(), "unhandled error on API request")
    assert line["request_id"] == "req-signed-1"
    assert (line["user_id"], line["username"]) == ("s09:c09", "s09/c09")


def test_a_celery_task_log_carries_the_task_id_and_name(json_lines):
    with single_instance("deliver_due_notify_tasks", ttl_seconds=30):  # the task finds the sweep running
        result = deliver_due_notify_tasks.apply()
    logging.getLogger("apps.common.tests").info("after the task")

    assert result.get() == 0
    line = the_line(json_lines(), "notify sweep already running elsewhere")
    assert line["task_id"] == result.id
    assert line["task_name"] == "apps.notifications.tasks.deliver_due_notify_tasks"
    assert line["logger"] == "apps.notifications.tasks"
    assert "task_id" not in the_line(json_lines(), "after the task")


def test_stdlib_arguments_extra_and_bound_context_are_rendered(json_lines):
    logger = logging.getLogger("apps.trade.services")
    with bound_context(team_id="T1", order_id="O2"):
        logger.warning("order %s of team %s settled at %.2f", "O2", "T1", 9.5, extra={"amount": "9.50"})
    logger.warning("outside")

    line = the_line(json_lines(), "settled")
    assert line["event"] == "order O2 of team T1 settled at 9.50"
    assert (line["team_id"], line["order_id"], line["amount"]) == ("T1", "O2", "9.50")
    assert "team_id" not in the_line(json_lines(), "outside")


def test_structlog_loggers_share_the_pipeline(json_lines):
    with bound_context(message_uuid="m-1", routing_key="team_success"):
        structlog.get_logger("apps.notifications.consumers").info("message applied", handlers=2)

    line = the_line(json_lines(), "message applied")
    assert (line["message_uuid"], line["routing_key"], line["handlers"]) == ("m-1", "team_success", 2)
    assert line["logger"] == "apps.notifications.consumers"
    assert line["level"] == "info"


def test_log_format_defaults_to_json_unless_debug_and_refuses_unknown_values(settings):
    settings.LOG_FORMAT = ""
    settings.DEBUG = False
    assert StructuredFormatter().log_format == "json"
    settings.DEBUG = True
    assert StructuredFormatter().log_format == "console"
    settings.LOG_FORMAT = "xml"
    with pytest.raises(ImproperlyConfigured):
        StructuredFormatter()
