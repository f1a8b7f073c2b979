from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from apps.common.api import json_error
from apps.common.errors import ResponseCode
from apps.common.health import readiness
from apps.common.middleware import API_PREFIX


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches nothing else."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: database, Redis and broker reachable; 503 otherwise."""
    ready, checks = readiness()
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return json_error(ResponseCode.NOT_FOUND)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return json_error(ResponseCode.UN_ERROR)
    return defaults.server_error(request)
