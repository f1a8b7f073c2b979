"""The OpenAPI schema describes the answers the API really sends: the envelope ``{code, info, data}``.

drf-spectacular describes what the views declare (``responses=SomeOut``): the ``data`` of the envelope.
``envelope_postprocessing_hook`` wraps each JSON 200 answer in ``<Data>Envelope`` (code, info, and the
declared serializer as ``data``) and adds the error answers every API view can give (api.md's error
table) as ``ErrorEnvelope``. Operations without a JSON 200 answer (the WeChat portal's text protocol)
are left as declared.

Decision: business refusals (E0xxx, 0003-0005) are answered with HTTP 200 and ``data`` null (or, for a
refusal about one field, ``FieldErrors``), so a 200 envelope's ``code`` is any string and its ``data`` is
the serializer (code "0000"), ``FieldErrors`` or null. The fuzz test (test_api_fuzz.py) holds real
answers to this description.
"""

from typing import Any

SCHEMA_PREFIX = "#/components/schemas/"
ERROR_ENVELOPE = "ErrorEnvelope"
FIELD_ERRORS = "FieldErrors"

# The error answers of the generic HTTP layer (apps.common.api.exception_handler) and of the domain.
ERROR_RESPONSES: dict[str, str] = {
    "400": "0002 illegal parameter; `data` maps each bad field to its messages.",
    "401": "Authentication missing or invalid (0401, E0201-E0203).",
    "403": "Authenticated, but not allowed (0403).",
    "404": "Not found (0404).",
    "415": "0002: a signed body must be JSON in UTF-8.",
    "429": "Too many requests (0006); see the Retry-After header.",
    "500": "Unknown error (0001); `data.requestId` names the request in the logs.",
    "503": "A dependency is unavailable (0007); retry with the same idempotency key.",
}


def _error_envelope() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The envelope of a refused request.",
        "properties": {
            "code": {"type": "string", "description": "The error code (api.md's error table).", "example": "0002"},
            "info": {"type": "string", "description": "What went wrong, in the request's language."},
            "data": {
                "nullable": True,
                "description": "Field errors ({field: [messages]}) for 0002, {requestId} for 0001/0007, else null.",
            },
        },
        "required": ["code", "info", "data"],
    }


def _field_errors() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The messages of each refused field.",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    }


def _success_envelope(data_schema: dict[str, Any]) -> dict[str, Any]:
    data = {
        "anyOf": [data_schema, {"$ref": f"{SCHEMA_PREFIX}{FIELD_ERRORS}"}],
        "nullable": True,
        "description": "The answer when code is 0000; null (or the refused fields) when a business rule "
        "refused the request.",
    }
    return {
        "type": "object",
        "description": "The envelope of an answered request: code 0000 with data, or a business error code "
        "(E0xxx, 0003-0005) with data null.",
        "properties": {
            "code": {
                "type": "string",
                "description": "0000 on success, else the business error code.",
                "example": "0000",
            },
            "info": {"type": "string", "description": "success, or what the business rule refused."},
            "data": data,
        },
        "required": ["code", "info", "data"],
    }


def _envelope_name(data_schema: dict[str, Any], operation_id: str) -> str:
    ref = data_schema.get("$ref", "")
    if ref.startswith(SCHEMA_PREFIX):
        return f"{ref.removeprefix(SCHEMA_PREFIX)}Envelope"
    camel = "".join(part[:1].upper() + part[1:] for part in operation_id.replace("-", "_").split("_"))
    return f"{camel}Envelope"


def envelope_postprocessing_hook(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular POSTPROCESSING_HOOKS entry: wrap every JSON answer in the envelope."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_ENVELOPE] = _error_envelope()
    schemas[FIELD_ERRORS] = _field_errors()
    error_ref = {"$ref": f"{SCHEMA_PREFIX}{ERROR_ENVELOPE}"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            content = responses.get("200", {}).get("content", {}).get("application/json")
            if not content or "schema" not in content:
                continue  # not a JSON API answer (text protocols)
            name = _envelope_name(content["schema"], operation.get("operationId", "answer"))
            schemas.setdefault(name, _success_envelope(content["schema"]))
            content["schema"] = {"$ref": f"{SCHEMA_PREFIX}{name}"}
            for status, description in ERROR_RESPONSES.items():
                responses.setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": error_ref}}}
                )
    return result
