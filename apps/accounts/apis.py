"""Mobile login: username/password for a DRF token (demo users; production adds scan login)."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api import success
from apps.common.errors import GroupBuyError, ResponseCode


class TokenLoginRequest(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenLoginApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="login_token",
        request=TokenLoginRequest,
        responses=inline_serializer("TokenOut", {"token": serializers.CharField()}),
        summary="Exchange a username and password for an API token",
    )
    def post(self, request: Request) -> Response:
        params = TokenLoginRequest(data=request.data)
        params.is_valid(raise_exception=True)
        user = authenticate(request, **params.validated_data)
        if user is None or not user.is_active:
            raise GroupBuyError(ResponseCode.UNAUTHORIZED, "wrong username or password")
        token, _ = Token.objects.get_or_create(user=user)
        return success({"token": token.key})
