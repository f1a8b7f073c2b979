"""Test-only URLconf: the project's URLs plus lane views that answer, fail and crash on purpose."""

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.translation import gettext

from apps.common.api import success_json
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.lane import lane_view
from config.urls import urlpatterns as project_urlpatterns


@lane_view(name="test_echo", methods=("POST",))
def echo(request: HttpRequest) -> HttpResponse:
    # What the full stack would have added: a session (SessionMiddleware) and a user (AuthenticationMiddleware).
    return success_json({"session": hasattr(request, "session"), "user": hasattr(request, "user")})


@lane_view(name="test_refuse", methods=("POST",))
def refuse(request: HttpRequest) -> HttpResponse:
    raise GroupBuyError(ResponseCode.E0006, gettext("the team is already full"))


@lane_view(name="test_crash", methods=("POST",))
def crash(request: HttpRequest) -> HttpResponse:
    raise KeyError("a bug")


@lane_view(name="test_db_down", methods=("POST",))
def db_down(request: HttpRequest) -> HttpResponse:
    raise OperationalError(2013, "Lost connection to server during query")


urlpatterns = [
    path("api/v1/test/lane/echo", echo),
    path("api/v1/test/lane/refuse", refuse),
    path("api/v1/test/lane/crash", crash),
    path("api/v1/test/lane/db_down", db_down),
    *project_urlpatterns,
]
