"""The inbox in the mall API (mobile clients, token auth, envelope): list my messages, mark one read.

Messages are rendered in the request's language (``Accept-Language``; zh-hans by default) from their kind and
parameters; ``params`` is there too for clients that render their own. Another shopper's message id answers 404.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import NotFound
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import User
from apps.common.api import success
from apps.notifications.inbox import inbox_message_mark_read
from apps.notifications.models import InboxMessage
from apps.notifications.selectors import inbox_messages, inbox_unread_count
from apps.notifications.texts import inbox_message_text


class InboxMessageOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(
        choices=InboxMessage.Kind.choices,
        help_text="team_formed, team_failed (refunded: params.amount), team_expiring (params.seatsLeft)",
    )
    teamId = serializers.CharField()
    title = serializers.CharField(help_text="rendered in the request's language")
    body = serializers.CharField(help_text="rendered in the request's language")
    params = serializers.DictField(
        help_text='goodsName; targetCount (formed); amount as "80.00" (failed); seatsLeft, validEndTime, minutes '
        "(expiring)"
    )
    read = serializers.BooleanField()
    createTime = serializers.DateTimeField()
    readTime = serializers.DateTimeField(allow_null=True)


class InboxPageOut(serializers.Serializer):
    count = serializers.IntegerField()
    unreadCount = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    results = InboxMessageOut(many=True)


def message_wire(message: InboxMessage) -> dict:
    text = inbox_message_text(message)
    return {
        "id": message.pk,
        "kind": message.kind,
        "teamId": message.team_id,
        "title": text.title,
        "body": text.body,
        "params": message.params,
        "read": message.read_at is not None,
        "createTime": message.create_time,
        "readTime": message.read_at,
    }


class InboxApi(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    @staticmethod
    def shopper(request: Request) -> User:
        assert isinstance(request.user, User)  # IsAuthenticated lets nobody else in
        return request.user


class MallInboxApi(InboxApi):
    @extend_schema(
        operation_id="mall_inbox",
        responses=InboxPageOut,
        parameters=[
            OpenApiParameter("limit", OpenApiTypes.INT, description="page size (default 20, at most 100)"),
            OpenApiParameter("offset", OpenApiTypes.INT, description="rows to skip"),
        ],
        summary="My inbox: team formed, failed and refunded, about to expire; newest first",
    )
    def get(self, request: Request) -> Response:
        user = self.shopper(request)
        paginator = LimitOffsetPagination()
        paginator.default_limit, paginator.max_limit = 20, 100
        page = paginator.paginate_queryset(inbox_messages(user=user), request, view=self)
        assert page is not None  # None only without a limit, and default_limit is set
        return success(
            InboxPageOut(
                {
                    "count": paginator.count,
                    "unreadCount": inbox_unread_count(user=user),
                    "limit": paginator.limit,
                    "offset": paginator.offset,
                    "results": [message_wire(message) for message in page],
                }
            ).data
        )


class MallInboxReadApi(InboxApi):
    @extend_schema(
        operation_id="mall_inbox_read",
        request=None,
        responses=InboxMessageOut,
        summary="Mark one of my messages read (idempotent); another shopper's id answers 404",
    )
    def post(self, request: Request, message_id: int) -> Response:
        message = inbox_message_mark_read(user=self.shopper(request), message_id=message_id)
        if message is None:
            raise NotFound("no such message")
        return success(InboxMessageOut(message_wire(message)).data)
