"""The API lane: views marked ``@lane_view`` are served by the first middleware, past the rest of the stack.

A signed mall call needs none of what the other 13 middlewares do (sessions, CSRF, user authentication,
messages, django-prometheus' per-view timers...): together they cost more than the call's own work on
the hot paths (docs/decisions/010-the-signed-api-lane.md). ``LaneMiddleware`` sits first in
``MIDDLEWARE``; for a path whose view is marked, it serves the view itself with what every API answer
keeps:

- the request id (the caller's ``X-Request-ID`` or a new one), bound to the logs and echoed back;
- the host check (``ALLOWED_HOSTS``) and the language of ``Accept-Language``, as the full stack does;
- the error envelope: a ``GroupBuyError`` is its code, anything else 0001/0007 with the request id;
- the API's own metrics, ``gbm_api_requests_total`` and ``gbm_api_request_seconds`` (by endpoint);
- Django's security headers, from ``SecurityMiddleware`` and ``XFrameOptionsMiddleware`` themselves.

Every other path goes down the full stack unchanged.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port, validate_host
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.cache import patch_vary_headers
from prometheus_client import Counter, Histogram

from apps.common.api import error_json, json_error, unknown_error_json
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.metrics import counter_labels_init
from apps.common.middleware import API_PREFIX, request_scope

logger = logging.getLogger(__name__)
security_logger = logging.getLogger("django.security")

LaneView = Callable[[HttpRequest], HttpResponse]

API_REQUESTS = Counter(
    "gbm_api_requests_total", "Lane API answers, by endpoint and envelope code", ["endpoint", "code"]
)
API_SECONDS = Histogram(
    "gbm_api_request_seconds",
    "Lane API time in Django, by endpoint",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


def lane_view(*, name: str, methods: Iterable[str]) -> Callable[[LaneView], LaneView]:
    """Mark a plain Django view for the lane: ``name`` labels its metrics, other methods answer 405."""

    def mark(view: LaneView) -> LaneView:
        counter_labels_init(API_REQUESTS, [(name, ResponseCode.SUCCESS.code)])  # a series at 0 from the start
        view.lane_name = name  # type: ignore[attr-defined]
        view.lane_methods = frozenset(method.upper() for method in methods)  # type: ignore[attr-defined]
        return view

    return mark


@functools.lru_cache(maxsize=512)
def _lane_view_for(path: str) -> LaneView | None:
    try:
        view = resolve(path).func
    except Resolver404:
        return None
    return view if hasattr(view, "lane_methods") else None


class _AcceptLanguage:
    """What Django's language negotiation reads of a request, reduced to the header: a mall's call carries no
    language cookie the lane would honour (no cookie of a lane call is read)."""

    COOKIES: dict[str, str] = {}

    def __init__(self, accept_language: str) -> None:
        self.META = {"HTTP_ACCEPT_LANGUAGE": accept_language}


@functools.lru_cache(maxsize=256)
def _language_of(accept_language: str) -> str:
    """The language Django picks for this Accept-Language header, computed once per header value."""
    return translation.get_language_from_request(_AcceptLanguage(accept_language))  # type: ignore[arg-type]


@functools.lru_cache(maxsize=256)
def _host_allowed(host: str) -> bool:
    """Does ``ALLOWED_HOSTS`` admit this Host header? Django's own test (``HttpRequest.get_host``), once per value."""
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed_hosts)


def _host_check(request: HttpRequest) -> None:
    """``request.get_host()``'s check (DisallowedHost), from a cache when the Host header alone names the host."""
    host = request.META.get("HTTP_HOST")
    if host is None or "HTTP_X_FORWARDED_HOST" in request.META or not _host_allowed(host):
        request.get_host()  # the full rules, and Django's own error


@receiver(setting_changed)
def _forget_routes(*, setting: str, **kwargs: object) -> None:
    if setting == "ROOT_URLCONF":
        _lane_view_for.cache_clear()
    if setting in {"LANGUAGES", "LANGUAGE_CODE", "LANGUAGE_COOKIE_NAME"}:
        _language_of.cache_clear()
    if setting in {"ALLOWED_HOSTS", "DEBUG"}:
        _host_allowed.cache_clear()


# The metrics' children by label values, looked up once: ``labels()`` validates and locks on every call.
@functools.cache
def _seconds_of(name: str) -> Any:
    return API_SECONDS.labels(name)


@functools.lru_cache(maxsize=1024)  # endpoints × codes, a small set
def _answers_of(name: str, code: str) -> Any:
    return API_REQUESTS.labels(name, code)


def _no_response(request: HttpRequest) -> HttpResponse:  # pragma: no cover - the lane never calls down
    raise AssertionError("the lane's security headers wrap a response, they never produce one")


class LaneMiddleware:
    """First in ``MIDDLEWARE``: serves ``@lane_view`` views, passes everything else down the stack."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.security = SecurityMiddleware(_no_response)
        self.frame_options = XFrameOptionsMiddleware(_no_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = _lane_view_for(request.path_info) if request.path_info.startswith(API_PREFIX) else None
        if view is None:
            return self.get_response(request)
        with request_scope(request) as request_id:
            started = time.perf_counter()
            response = self.security.process_request(request) or self._answer(request, view)
            response = self.frame_options.process_response(request, self.security.process_response(request, response))
            response["X-Request-ID"] = request_id
        name = view.lane_name  # type: ignore[attr-defined]
        _seconds_of(name).observe(time.perf_counter() - started)
        _answers_of(name, getattr(response, "envelope_code", str(response.status_code))).inc()
        return response

    def _answer(self, request: HttpRequest, view: LaneView) -> HttpResponse:
        try:
            _host_check(request)  # ALLOWED_HOSTS, as CommonMiddleware checks it on the full stack
        except SuspiciousOperation as exc:
            security_logger.getChild(type(exc).__name__).error(str(exc))
            return json_error(ResponseCode.ILLEGAL_PARAMETER, status=400)
        language = _language_of(request.META.get("HTTP_ACCEPT_LANGUAGE", ""))
        translation.activate(language)
        request.LANGUAGE_CODE = language  # what get_language() answers now: the code as negotiated
        try:
            if request.method not in view.lane_methods:  # type: ignore[attr-defined]
                response: HttpResponse = json_error(ResponseCode.ILLEGAL_PARAMETER, status=405)
                response["Allow"] = ", ".join(sorted(view.lane_methods))  # type: ignore[attr-defined]
            else:
                response = view(request)
        except GroupBuyError as exc:
            response = error_json(exc)
        except Exception as exc:  # every crash answers the envelope with the request id
            response = unknown_error_json(exc)
        finally:
            translation.deactivate()
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", language)
        return response
