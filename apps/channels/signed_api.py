"""The signed API's views: plain Django views served by the lane (``apps.common.lane``), documented as DRF.

``@signed_endpoint(...)`` turns ``handler(call: SignedCall) -> data`` into a lane view that verifies the
call (``signed_call_verify``), runs the handler and answers ``data`` in the envelope. No DRF Request,
negotiation or renderer runs on these paths (docs/decisions/010-the-signed-api-lane.md); the OpenAPI
schema still describes each endpoint exactly: the view carries a DRF class that only drf-spectacular
reads (``cls``), with the same request and response serializers and the signing headers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from apps.channels.authentication import (
    ChannelSignatureAuthentication,
    SignedCall,
    signed_call_verify,
    signed_params_check,
)
from apps.common.api import invalid_params, success_json
from apps.common.errors import GroupBuyError
from apps.common.lane import LaneView, lane_view
from apps.common.logging import request_caller_attach

SignedHandler = Callable[[SignedCall], Any]


def signed_endpoint(
    *, name: str, method: str = "POST", handler_records_nonce: bool = False, **schema: Any
) -> Callable[[SignedHandler], LaneView]:
    """A lane view for ``handler``; ``schema`` are ``extend_schema``'s arguments (operation_id, request,
    responses, parameters, summary...), which document it.

    ``handler_records_nonce``: the handler records ``call.nonce`` itself, with its first Redis work and before it
    changes anything (the trial: nonce and permit in one round trip); an answer without it recorded is a crash."""

    def decorate(handler: SignedHandler) -> LaneView:
        @lane_view(name=name, methods=(method,))
        def view(request: HttpRequest) -> HttpResponse:
            call = signed_call_verify(request, defer_nonce=handler_records_nonce)
            request_caller_attach(request, call.caller)  # the logs' user_id
            try:
                data = handler(call)
            except GroupBuyError:
                if call.nonce is not None and not call.nonce.recorded:
                    call.nonce.record()  # a replayed call answers E0202, whatever else it would have answered
                raise
            if call.nonce is not None and not call.nonce.recorded:
                raise AssertionError(f"{handler.__name__} answered without recording the call's nonce")
            return success_json(data)

        view.__name__ = view.__qualname__ = handler.__name__
        view.__module__, view.__doc__ = handler.__module__, handler.__doc__
        view.cls = _documentation(handler, method, schema)  # type: ignore[attr-defined]
        view.initkwargs = {}  # type: ignore[attr-defined]
        return view

    return decorate


def _documentation(handler: SignedHandler, method: str, schema: dict[str, Any]) -> type[APIView]:
    """The DRF view drf-spectacular reads for this endpoint; never dispatched (the lane serves the path)."""

    def operation(self: APIView, request: Any) -> None:  # pragma: no cover - documentation only
        raise NotImplementedError

    return type(
        f"{handler.__name__}_documentation",
        (APIView,),
        {
            "__module__": handler.__module__,
            "__doc__": handler.__doc__,
            "authentication_classes": [ChannelSignatureAuthentication],
            "permission_classes": [],
            method.lower(): extend_schema(**schema)(operation),
        },
    )


ParamsValidator = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def signed_params(call: SignedCall, validator: type[Serializer] | ParamsValidator) -> Mapping[str, Any]:
    """The call's parameters validated (0002 with the field errors), source/channel the verified caller's (else
    E0201). ``validator`` is the endpoint's serializer, or on a hot path its plain twin (``apps.common.params``)."""
    if isinstance(validator, type):
        serializer = validator(data=call.params)
        if not serializer.is_valid():
            raise invalid_params(serializer.errors)
        data: Mapping[str, Any] = serializer.validated_data
    else:
        data = validator(call.params)
    signed_params_check(call, data)
    return data
