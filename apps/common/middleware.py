"""Request ids and the JSON-only guarantee for /api/."""

import random
import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.common.api import json_error, unknown_error_json
from apps.common.errors import ResponseCode
from apps.common.logging import current_request_var, request_id_attach

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
API_PREFIX = "/api/"


class request_scope:
    """The request's id (the caller's X-Request-ID, which nginx sets, or a new one), on the request and the request
    in ``current_request_var`` for the block, where the logs and the crash envelope read it; gives the id for the
    response header. A class rather than a generator: it runs on every request."""

    __slots__ = ("request", "token")

    def __init__(self, request: HttpRequest) -> None:
        self.request = request

    def __enter__(self) -> str:
        incoming = self.request.META.get("HTTP_X_REQUEST_ID", "")
        # Unique, not secret: Python's generator (reseeded in each forked worker) instead of uuid4's read of the
        # kernel's randomness, a syscall on every request.
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else f"{random.getrandbits(128):032x}"
        request_id_attach(self.request, request_id)
        self.token = current_request_var.set(self.request)
        return request_id

    def __exit__(self, *exc_info: object) -> None:
        current_request_var.reset(self.token)


class RequestIdMiddleware:
    """Take the caller's X-Request-ID or make one; bind it to the logs; echo it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_scope(request) as request_id:
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class ApiExceptionMiddleware:
    """Below DRF: errors raised outside a DRF view (URL resolving, middleware) still answer JSON."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(API_PREFIX) and response.status_code == 404 and _is_html(response):
            return json_error(ResponseCode.NOT_FOUND)
        if request.path.startswith(API_PREFIX) and response.status_code == 405 and _is_html(response):
            return json_error(ResponseCode.ILLEGAL_PARAMETER, status=405)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if request.path.startswith(API_PREFIX):
            return unknown_error_json(exception)
        return None


def _is_html(response: HttpResponse) -> bool:
    return "json" not in response.get("Content-Type", "")
