"""Test-only URLconf: the project's URLs plus one lane endpoint behind the channel signature."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from apps.channels.authentication import SignedCall, signed_call_verify
from apps.channels.signed_api import signed_endpoint
from apps.common.api import success_json
from apps.common.lane import lane_view
from config.urls import urlpatterns as project_urlpatterns

SIGNED_PATH = "/api/v1/gbm/test/signed"
FORGETFUL_PATH = "/api/v1/gbm/test/forgets_its_nonce"


@lane_view(name="test_signed", methods=("GET", "POST"))
def signed_echo(request: HttpRequest) -> HttpResponse:
    """Answers who called, and the userId the verified parameters carry."""
    call = signed_call_verify(request)
    data = {"source": call.caller.source, "channel": call.caller.channel}
    return success_json({**data, "userId": call.params["userId"]} if "userId" in call.params else data)


@signed_endpoint(name="test_forgetful", handler_records_nonce=True, operation_id="test_forgetful")
def forgets_its_nonce(call: SignedCall) -> dict:
    """Defers the nonce to itself and never records it: a bug the lane must not answer 0000 to."""
    return {"ok": True}


urlpatterns = [
    path(SIGNED_PATH.lstrip("/"), signed_echo, name="test-signed"),
    path(FORGETFUL_PATH.lstrip("/"), forgets_its_nonce, name="test-forgetful"),
    *project_urlpatterns,
]
