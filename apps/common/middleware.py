"""Request ids and the JSON-only guarantee for /api/."""

import random
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.http import HttpRequest, HttpResponse

from apps.common.api import json_error, unknown_error_json
from apps.common.errors import ResponseCode
from apps.common.logging import bound_context, current_request_var, request_id_attach, request_id_var

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
API_PREFIX = "/api/"


@contextmanager
def request_scope(request: HttpRequest) -> Iterator[str]:
    """The request's id (the caller's X-Request-ID, which nginx sets, or a new one), bound to the logs
    and to the crash envelope for the block; yields it for the response header."""
    incoming = request.META.get("HTTP_X_REQUEST_ID", "")
    # Unique, not secret: Python's generator (reseeded in each forked worker) instead of uuid4's read of the
    # kernel's randomness, a syscall on every request.
    request_id = incoming if _VALID_REQUEST_ID.match(incoming) else f"{random.getrandbits(128):032x}"
    request_id_attach(request, request_id)
    token = request_id_var.set(request_id)
    request_token = current_request_var.set(request)  # add_request_context reads the user from it
    try:
        with bound_context(request_id=request_id):
            yield request_id
    finally:
        current_request_var.reset(request_token)
        request_id_var.reset(token)


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
