"""Login API (api.md "Login"): token login, scan login (ticket, polling, confirm) and the WeChat portal.

Thin adapters: validate, call one service, answer in the envelope. The flow and its decisions are
documented in docs/decisions/009-a-scan-login-ticket-belongs-to-its-browser.md (tickets) and
``apps.accounts.weixin`` (portal).
"""

from collections.abc import Iterable

from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.browser import browser_login, ticket_owner
from apps.accounts.models import User
from apps.accounts.services import (
    api_token_get_or_create,
    login_ticket_confirm,
    login_ticket_consume,
    login_ticket_issue,
    weixin_delivery_record,
    weixin_scan_receive,
)
from apps.accounts.throttle import LoginThrottled, password_authenticate
from apps.accounts.weixin import (
    MAX_BODY_BYTES,
    WeixinXmlError,
    delivery_ttl_seconds,
    parse_weixin_xml,
    scan_event_of,
    weixin_query_verify,
)
from apps.common.api import error_response, success
from apps.common.errors import GroupBuyError, ResponseCode

TICKET_MAX_LENGTH = 64


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
        description=(
            "Throttled (apps/accounts/throttle.py): after too many failed attempts for the username or from the "
            "client address, 0006 (HTTP 429, Retry-After; data.retryAfterSeconds) until the window ends."
        ),
    )
    def post(self, request: Request) -> Response:
        params = TokenLoginRequest(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            user = password_authenticate(request._request, **params.validated_data)
        except LoginThrottled as exc:
            response = error_response(exc)
            response["Retry-After"] = str(exc.retry_after)
            return response
        if user is None:
            raise GroupBuyError(ResponseCode.UNAUTHORIZED, _("wrong username or password"))
        return success({"token": api_token_get_or_create(user=user)})


# --- scan login -----------------------------------------------------------------------------------


class TicketIn(serializers.Serializer):
    ticket = serializers.CharField(max_length=TICKET_MAX_LENGTH)


class LoginTicketApi(APIView):
    """A new QR ticket, always bound to the caller's session (created here if it has none).

    Decision: a client without a cookie jar cannot collect a scan login. Native apps are the phone
    side (``/login/confirm``) or log in with ``/login/token``; an unbound ticket is what let an
    attacker log a victim's browser into the attacker's account.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="login_weixin_qrcode_ticket",
        request=None,
        responses=inline_serializer(
            "LoginTicketOut",
            {
                "ticket": serializers.CharField(),
                "qrCodeUrl": serializers.URLField(help_text="SVG QR code of the phone's confirm page"),
                "expireSeconds": serializers.IntegerField(),
            },
        ),
        summary="Issue a scan-login QR ticket",
        description=(
            "The ticket is bound to the caller's session: the answer sets the session cookie if the caller "
            "has none, and only a `check_login` carrying that cookie can collect the login."
        ),
    )
    def get(self, request: Request) -> Response:
        django_request = request._request
        issued = login_ticket_issue(owner=ticket_owner(django_request, bind=True))
        qr_url = request.build_absolute_uri(reverse("accounts:login-qr", args=[issued.ticket]))
        return success({"ticket": issued.ticket, "qrCodeUrl": qr_url, "expireSeconds": issued.expire_seconds})


class CheckLoginApi(APIView):
    """Poll a ticket. ``confirmed`` comes once, to the issuing session only: it is logged in (and gets the token)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="login_check_login",
        parameters=[OpenApiParameter("ticket", OpenApiTypes.STR, required=True)],
        responses=inline_serializer(
            "CheckLoginOut",
            {
                "status": serializers.ChoiceField(choices=["waiting", "confirmed", "expired"]),
                "token": serializers.CharField(required=False, help_text="only with status confirmed"),
            },
        ),
        summary="Poll a scan-login ticket",
        description=(
            "`confirmed` is answered exactly once per ticket; any later poll of that ticket answers `expired`. "
            "Unknown tickets answer `expired`. A ticket issued to another browser session answers `waiting` "
            "(never a login) and is left for its own browser."
        ),
    )
    def get(self, request: Request) -> Response:
        params = TicketIn(data=request.query_params)
        params.is_valid(raise_exception=True)
        django_request = request._request
        owner = ticket_owner(django_request, bind=False)
        poll = login_ticket_consume(ticket=params.validated_data["ticket"], owner=owner)
        if poll.user is None:
            return success({"status": poll.status})
        response = success({"status": "confirmed", "token": api_token_get_or_create(user=poll.user)})
        browser_login(django_request, response, poll.user)  # the owner matched: this is the issuing browser
        return response


class LoginConfirmApi(APIView):
    """The phone side: an authenticated mobile user confirms the ticket it scanned."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="login_confirm",
        request=TicketIn,
        responses=inline_serializer("LoginConfirmOut", {"status": serializers.CharField()}),
        summary="Confirm a scanned ticket as the authenticated user",
        description="An expired or unknown ticket, or one another account confirmed first, answers 0002 (HTTP 400).",
    )
    def post(self, request: Request) -> Response:
        params = TicketIn(data=request.data)
        params.is_valid(raise_exception=True)
        user = request.user
        assert isinstance(user, User)  # IsAuthenticated lets nobody else in
        login_ticket_confirm(ticket=params.validated_data["ticket"], user=user)
        return success({"status": "confirmed"})


# --- WeChat portal --------------------------------------------------------------------------------


class IgnoreAcceptHeader(BaseContentNegotiation):
    """WeChat's Accept header is not ours to honour: errors are always the JSON envelope."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


def _plain(text: str) -> HttpResponse:
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


class WeixinPortalApi(APIView):
    """WeChat's server calls this: GET to verify the URL (echo), POST with event XML (scan login)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    content_negotiation_class = IgnoreAcceptHeader

    @extend_schema(
        operation_id="weixin_portal_verify",
        parameters=[
            OpenApiParameter(name, OpenApiTypes.STR, required=True)
            for name in ("signature", "timestamp", "nonce", "echostr")
        ],
        responses={(200, "text/plain"): OpenApiTypes.STR},
        summary="WeChat URL verification: echoes echostr when the SHA1 signature is valid (else 401 E0201)",
    )
    def get(self, request: Request) -> HttpResponse:
        weixin_query_verify(request.query_params, fresh=False)
        echostr = request.query_params.get("echostr", "")
        if not echostr or len(echostr) > 512 or not echostr.isprintable():
            raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, data={"echostr": [_("This field is required.")]})
        return _plain(echostr)

    @extend_schema(
        operation_id="weixin_portal_receive",
        parameters=[
            OpenApiParameter(name, OpenApiTypes.STR, required=True) for name in ("signature", "timestamp", "nonce")
        ],
        request={"text/xml": OpenApiTypes.STR},
        responses={(200, "text/plain"): OpenApiTypes.STR},
        summary="WeChat event push: SCAN/subscribe with a login ticket binds it to the scanning user",
    )
    def post(self, request: Request) -> HttpResponse:
        signed = weixin_query_verify(request.query_params, fresh=True)
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > MAX_BODY_BYTES:  # refused before reading a byte of it
            raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, _("The message is too large."))
        body = request.body
        try:
            message = parse_weixin_xml(body)
        except WeixinXmlError as exc:
            raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, str(exc)) from exc
        weixin_delivery_record(
            timestamp=signed.timestamp, nonce=signed.nonce, body=body, ttl_seconds=delivery_ttl_seconds()
        )
        event = scan_event_of(message)
        if event is not None:
            weixin_scan_receive(event=event)
        return _plain("success")
