"""The API envelope ``{code, info, data}`` and the one DRF exception handler (api.md)."""

import functools
import logging
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse
from django.utils.translation import get_language
from rest_framework import exceptions as drf_exceptions
from rest_framework.metadata import SimpleMetadata
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from apps.common.db import is_transient_db_error
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.logging import current_request_id

if TYPE_CHECKING:  # rest_framework.views reads DEFAULT_METADATA_CLASS, which names this module, at import
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)


def envelope(code: ResponseCode, data: Any = None, info: str | None = None) -> dict:
    return {
        "code": code.code,
        "info": str(info if info is not None else _default_info(code, get_language())),
        "data": data,
    }


@functools.lru_cache(maxsize=512)  # codes × languages: a small set
def _default_info(code: ResponseCode, language: str | None) -> str:
    """``code``'s message in ``language`` (the active one, which the key names): translated once, not per answer."""
    return str(code.info)


def success(data: Any = None) -> Response:
    """A 200 answer in the envelope; what every API view returns on success."""
    return Response(envelope(ResponseCode.SUCCESS, data))


def error_response(exc: GroupBuyError) -> Response:
    return Response(envelope(exc.response_code, exc.data, exc.info), status=exc.http_status)


# What DRF's JSONRenderer writes (compact, UTF-8, no NaN); one encoder for every answer (it keeps no state).
_ENVELOPE_ENCODER = JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class EnvelopeResponse(HttpResponse):
    """The envelope as DRF's JSONRenderer writes it (compact, UTF-8, no NaN), without DRF's Response: for views
    served by the lane (``apps.common.lane``) and the JSON errors outside DRF. It remembers its code
    (``envelope_code``) for the lane's metrics."""

    def __init__(self, body: dict[str, Any], status: int = 200) -> None:
        content = _ENVELOPE_ENCODER.encode(body)
        super().__init__(content.encode(), content_type="application/json", status=status)
        self.envelope_code: str = body["code"]


def success_json(data: Any = None) -> HttpResponse:
    """A 200 answer in the envelope, for lane views."""
    return EnvelopeResponse(envelope(ResponseCode.SUCCESS, data))


def error_json(exc: GroupBuyError) -> HttpResponse:
    """A domain error in the envelope, for lane views."""
    return EnvelopeResponse(envelope(exc.response_code, exc.data, exc.info), status=exc.http_status)


def _flatten_detail(detail: Any) -> Any:
    """DRF ErrorDetail trees → plain strings, so the field errors are stable JSON."""
    if isinstance(detail, dict):
        return {key: _flatten_detail(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten_detail(value) for value in detail]
    return str(detail)


def invalid_params(errors: Any) -> GroupBuyError:
    """A serializer's errors as the 0002 envelope's field errors (what DRF's ValidationError answers)."""
    data = _flatten_detail(errors)
    if not isinstance(data, dict):
        data = {"non_field_errors": data if isinstance(data, list) else [data]}
    return GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, data=data)


_DRF_CODES: list[tuple[type[drf_exceptions.APIException], ResponseCode]] = [
    (drf_exceptions.ParseError, ResponseCode.ILLEGAL_PARAMETER),
    (drf_exceptions.ValidationError, ResponseCode.ILLEGAL_PARAMETER),
    (drf_exceptions.UnsupportedMediaType, ResponseCode.ILLEGAL_PARAMETER),
    (drf_exceptions.NotAuthenticated, ResponseCode.UNAUTHORIZED),
    (drf_exceptions.AuthenticationFailed, ResponseCode.UNAUTHORIZED),
    (drf_exceptions.PermissionDenied, ResponseCode.FORBIDDEN),
    (drf_exceptions.NotFound, ResponseCode.NOT_FOUND),
    (drf_exceptions.Throttled, ResponseCode.RATE_LIMITED),
]


def exception_handler(exc: Exception, context: dict) -> Response | HttpResponse:
    """Map every exception raised inside a DRF view to the envelope.

    Domain errors keep their code; DRF's own errors map to the generic codes; a transient database
    failure (``is_transient_db_error``) is 0007 (HTTP 503, retry); anything else is an unknown error
    (0001, HTTP 500). Both are logged with the request id that the client also receives.
    """
    if isinstance(exc, GroupBuyError):
        return error_response(exc)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    for exc_type, code in _DRF_CODES:
        if isinstance(exc, exc_type):
            if code is ResponseCode.ILLEGAL_PARAMETER:
                return error_response(invalid_params(exc.detail))
            info = str(exc.detail) if code is not ResponseCode.RATE_LIMITED else None
            response = Response(envelope(code, None, info), status=exc.status_code)
            wait = getattr(exc, "wait", None)  # Throttled's seconds to wait
            if wait:
                response["Retry-After"] = str(int(wait))
            return response
    if isinstance(exc, drf_exceptions.APIException):
        return Response(envelope(ResponseCode.ILLEGAL_PARAMETER, None, str(exc.detail)), status=exc.status_code)
    return unknown_error_json(exc)


def unknown_error_json(exc: BaseException) -> HttpResponse:
    """0001/500 with the request id; 0007/503 "retry" for a transient database failure.

    With a lost connection a write's outcome may be unknown (its COMMIT was sent): every write path is
    idempotent on the client's key, so the retry 0007 asks for finds the committed result.
    """
    request_id = current_request_id()
    if is_transient_db_error(exc):
        logger.warning("database unavailable on API request %s: %s", request_id, exc)
        code = ResponseCode.SERVICE_UNAVAILABLE
    else:
        logger.error("unhandled error on API request %s", request_id, exc_info=(type(exc), exc, exc.__traceback__))
        code = ResponseCode.UN_ERROR
    return EnvelopeResponse(envelope(code, {"requestId": request_id}), status=code.http_status)


def json_error(code: ResponseCode, status: int | None = None) -> HttpResponse:
    return EnvelopeResponse(envelope(code), status=status or code.http_status)


class EnvelopeMetadata(SimpleMetadata):
    """OPTIONS answers are API answers too: the metadata goes in the envelope's ``data``."""

    def determine_metadata(self, request: Request, view: "APIView") -> dict:
        return envelope(ResponseCode.SUCCESS, super().determine_metadata(request, view))
