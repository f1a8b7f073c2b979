"""Channel API: the signed ping (``ChannelPingApi``), a signed call that only checks the signing."""

import time

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.channels.authentication import SignedChannelApi
from apps.common.api import success


class ChannelPingIn(serializers.Serializer):
    source = serializers.CharField()
    channel = serializers.CharField()


class ChannelPingOut(serializers.Serializer):
    source = serializers.CharField()
    channel = serializers.CharField()
    serverTime = serializers.IntegerField(help_text="Unix seconds: compare with your clock (±300 s allowed).")


class ChannelPingApi(SignedChannelApi):
    """A signed call that does nothing else: lets a mall check its credential, signature and clock.

    Not in the reference contract (decision): integrating a signed API is easier with an endpoint whose
    only possible failures are the signing ones (0002, E0201, E0202, E0203). Its nonce is recorded like any
    other. The benchmarks also use it as the floor of every signed request.
    """

    @extend_schema(
        operation_id="channel_ping",
        request=ChannelPingIn,
        responses=ChannelPingOut,
        summary="Check a channel's signing: answers who you are and the server's clock (signed)",
    )
    def post(self, request: Request) -> Response:
        principal = request.user
        return success({"source": principal.source, "channel": principal.channel, "serverTime": int(time.time())})
