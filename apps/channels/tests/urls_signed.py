"""Test-only URLconf: the project's URLs plus one endpoint behind the channel signature."""

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response

from apps.channels.authentication import SignedChannelApi
from apps.common.api import success
from config.urls import urlpatterns as project_urlpatterns

SIGNED_PATH = "/api/v1/gbm/test/signed"


class SignedEchoApi(SignedChannelApi):
    """Answers who called: ``request.user`` is the ``ChannelPrincipal``."""

    def get(self, request: Request) -> Response:
        return success({"source": request.user.source, "channel": request.user.channel})

    def post(self, request: Request) -> Response:
        # request.data still parses after the authenticator has read the raw body.
        data = {"source": request.user.source, "channel": request.user.channel}
        return success({**data, "userId": request.data["userId"]} if "userId" in request.data else data)


urlpatterns = [
    path(SIGNED_PATH.lstrip("/"), SignedEchoApi.as_view(), name="test-signed"),
    *project_urlpatterns,
]
