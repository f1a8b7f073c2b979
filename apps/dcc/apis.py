"""Staff-only DCC endpoints (api.md): read all keys, update one key.

A change never rides on ambient credentials: a browser sends the session cookie with any cross-site
GET (an ``<img>`` in an email), and DRF checks CSRF on unsafe methods only. So a session changes config
by POST with the CSRF token (DRF's SessionAuthentication enforces it), and a GET changes config only when
the request authenticated with a staff token (``Authorization: Token ...``), which no browser adds by itself.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import BasePermission, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api import success
from apps.dcc.models import DccChange
from apps.dcc.selectors import dcc_stored_values
from apps.dcc.services import dcc_update


class DccUpdateParams(serializers.Serializer):
    key = serializers.CharField(max_length=64)
    value = serializers.CharField(max_length=1024, allow_blank=True, trim_whitespace=False)


class TokenForUnsafeGet(BasePermission):
    """A state-changing GET needs a token: the only credential a link cannot make the browser send."""

    message = _("Changing configuration by GET needs a staff token; with a session, POST with the CSRF token.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.method not in ("GET", "HEAD") or isinstance(request.auth, Token)


_UPDATE_DESCRIPTION = (
    "Staff only. GET changes state only with `Authorization: Token ...`; "
    "with an admin session, use POST with the CSRF token (a session GET is 403)."
)


class DccUpdateApi(APIView):
    permission_classes = [IsAdminUser, TokenForUnsafeGet]

    @extend_schema(
        operation_id="dcc_update_config",
        parameters=[OpenApiParameter("key", str, required=True), OpenApiParameter("value", str, required=True)],
        responses=OpenApiTypes.BOOL,
        summary="Set one dynamic-config key (staff token only)",
        description=_UPDATE_DESCRIPTION,
    )
    def get(self, request: Request) -> Response:
        return self._update(request)

    @extend_schema(
        operation_id="dcc_update_config_post",
        parameters=[OpenApiParameter("key", str, required=True), OpenApiParameter("value", str, required=True)],
        request=None,
        responses=OpenApiTypes.BOOL,
        summary="Set one dynamic-config key (staff session with CSRF token, or staff token)",
        description=_UPDATE_DESCRIPTION,
    )
    def post(self, request: Request) -> Response:
        return self._update(request)

    def _update(self, request: Request) -> Response:
        params = DccUpdateParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        user = request.user if request.user.is_authenticated else None  # IsAdminUser: always authenticated
        dcc_update(**params.validated_data, changed_by=user, via=DccChange.Via.API)
        return success(True)


class DccConfigApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="dcc_config",
        responses=OpenApiTypes.OBJECT,
        summary="All dynamic-config keys and values (staff only)",
    )
    def get(self, request: Request) -> Response:
        return success(dcc_stored_values())
