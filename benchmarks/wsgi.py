"""The bench server's WSGI entry: the product's application, plus a bare Django handler as the yardstick.

gunicorn serves ``benchmarks.wsgi:application`` in the bench only (``server.ServerOptions.app``); the
product's URLs and ``config.wsgi`` stay as they ship. Paths under ``/__bench__/`` go to a Django handler
with an empty middleware chain and this module's URLs; every other path to ``config.wsgi.application``
unchanged. Same settings, same Django, same gunicorn: the bare view (``/__bench__/bare``, the JSON
``/healthz`` answers) is what a Django view costs with nothing in front of it, the ratios' denominator
(issue 16). ``/__bench__/worker`` answers the worker's pid, so the load generator can spread its
connections evenly over the workers (``loadgen.open_balanced``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.wsgi import application as product_application  # sets Django up, runs the start guard

BENCH_PREFIX = "/__bench__/"
BARE_PATH = "/__bench__/bare"
WORKER_PATH = "/__bench__/worker"


def bare(request: HttpRequest) -> JsonResponse:
    """What ``apps.common.views.healthz`` answers, without the middleware stack around it."""
    return JsonResponse({"status": "ok"})


def worker(request: HttpRequest) -> JsonResponse:
    """Which gunicorn worker holds this connection (keep-alive: every request of it goes there)."""
    return JsonResponse({"pid": os.getpid()})


urlpatterns = [path(BARE_PATH.lstrip("/"), bare), path(WORKER_PATH.lstrip("/"), worker)]


class BareRequest(WSGIRequest):
    urlconf = __name__  # BaseHandler.resolve_request reads request.urlconf: this module's urlpatterns


class BareHandler(WSGIHandler):
    """Django's WSGI handler with ``MIDDLEWARE = []``: request signals, URL resolution, the view."""

    request_class = BareRequest

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler.load_middleware with an empty settings.MIDDLEWARE (no override of the shared settings).
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        self._middleware_chain = convert_exception_to_response(self._get_response)


bare_application = BareHandler()

StartResponse = Callable[..., Any]


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO", "").startswith(BENCH_PREFIX):
        return bare_application(environ, start_response)
    return product_application(environ, start_response)
