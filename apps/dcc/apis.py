"""Staff-only DCC endpoints (api.md): read all keys, update one key."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
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


class DccUpdateApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="dcc_update_config",
        parameters=[OpenApiParameter("key", str, required=True), OpenApiParameter("value", str, required=True)],
        responses=OpenApiTypes.BOOL,
        summary="Set one dynamic-config key (staff only)",
    )
    def get(self, request: Request) -> Response:
        return self._update(request)

    @extend_schema(
        operation_id="dcc_update_config_post",
        parameters=[OpenApiParameter("key", str, required=True), OpenApiParameter("value", str, required=True)],
        request=None,
        responses=OpenApiTypes.BOOL,
        summary="Set one dynamic-config key (staff only)",
    )
    def post(self, request: Request) -> Response:
        return self._update(request)

    def _update(self, request: Request) -> Response:
        params = DccUpdateParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        dcc_update(**params.validated_data, changed_by=request.user, via=DccChange.Via.API)
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
