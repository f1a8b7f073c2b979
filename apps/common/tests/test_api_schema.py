"""The OpenAPI schema describes the envelope the API really sends, validates, and reads in a browser."""

import io
import json

import pytest
import yaml
from django.core.management import call_command

from apps.accounts.tests.factories import StaffFactory
from apps.common.schema import ERROR_RESPONSES

pytestmark = pytest.mark.django_db

REF = "#/components/schemas/"
BROWSER = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
# Text by protocol (WeChat's portal): no envelope to describe.
TEXT_OPERATIONS = {"weixin_portal_verify", "weixin_portal_receive"}


@pytest.fixture(scope="module")
def schema() -> dict:
    out = io.StringIO()
    call_command("spectacular", "--format", "openapi-json", "--validate", "--fail-on-warn", stdout=out)
    return json.loads(out.getvalue())


def _component(schema: dict, ref: str) -> dict:
    assert ref.startswith(REF), ref
    return schema["components"]["schemas"][ref.removeprefix(REF)]


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_json_answer_is_the_envelope_around_its_serializer(schema):
    wrapped = 0
    for path, method, operation in _operations(schema):
        if operation["operationId"] in TEXT_OPERATIONS:
            continue
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        envelope = _component(schema, ok["$ref"])
        assert envelope["required"] == ["code", "info", "data"], (method, path)
        assert envelope["properties"]["code"]["type"] == "string"
        data = envelope["properties"]["data"]
        assert data["nullable"] is True  # a business refusal answers HTTP 200 with data null
        declared = data["anyOf"][0]
        assert data["anyOf"][1] == {"$ref": f"{REF}FieldErrors"}
        inner = declared.get("items", declared)
        if "$ref" in inner:
            assert _component(schema, inner["$ref"])["type"] == "object"
        else:
            assert "type" in inner, (method, path, data)
        for status in ERROR_RESPONSES:
            error = operation["responses"][status]["content"]["application/json"]["schema"]
            assert error == {"$ref": f"{REF}ErrorEnvelope"}, (method, path, status)
        wrapped += 1
    assert wrapped >= 19


def test_the_data_of_an_envelope_is_the_declared_serializer(schema):
    lock = schema["paths"]["/api/v1/gbm/trade/lock_market_pay_order"]["post"]
    envelope = _component(schema, lock["responses"]["200"]["content"]["application/json"]["schema"]["$ref"])
    assert envelope["properties"]["data"]["anyOf"][0] == {"$ref": f"{REF}LockOut"}
    products = schema["paths"]["/api/v1/mall/products"]["get"]
    envelope = _component(schema, products["responses"]["200"]["content"]["application/json"]["schema"]["$ref"])
    assert envelope["properties"]["data"]["anyOf"][0]["items"] == {"$ref": f"{REF}MallProductOut"}
    error = schema["components"]["schemas"]["ErrorEnvelope"]
    assert set(error["properties"]) == {"code", "info", "data"}


def test_a_real_answer_matches_its_described_envelope(client, schema):
    import jsonschema

    body = client.get("/api/v1/mall/products").json()  # anonymous: 401 in the error envelope
    error = schema["components"]["schemas"]["ErrorEnvelope"]
    jsonschema.validate(body, {**error, "components": schema["components"]})
    assert set(body) == {"code", "info", "data"}


def test_a_browser_reads_the_schema_as_text(client):
    page = client.get("/api/schema/", **BROWSER)
    assert page.status_code == 200
    assert page["Content-Type"] == "text/plain; charset=utf-8"
    assert "attachment" not in page.get("Content-Disposition", "")
    assert yaml.safe_load(page.content)["paths"]


def test_tools_still_get_yaml_and_json(client):
    default = client.get("/api/schema/")
    assert default["Content-Type"].startswith("application/vnd.oai.openapi")
    assert yaml.safe_load(default.content)["openapi"].startswith("3.")
    as_json = client.get("/api/schema/", {"format": "json"}, **BROWSER)
    assert as_json["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert json.loads(as_json.content)["components"]["schemas"]["ErrorEnvelope"]


def test_private_schema_sends_a_browser_to_the_login_and_tools_get_401(settings, client):
    settings.API_DOCS_PUBLIC = False
    anonymous = client.get("/api/schema/", **BROWSER)
    assert anonymous.status_code == 302
    assert anonymous["Location"] == "/admin/login/?next=%2Fapi%2Fschema%2F"
    assert client.get("/api/schema/").status_code == 401
    client.force_login(StaffFactory())
    assert client.get("/api/schema/", **BROWSER).status_code == 200
