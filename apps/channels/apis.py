"""Channel API: the signed ping, a signed call that only checks the signing (served by the lane)."""

import time
from typing import Any

from rest_framework import serializers

from apps.channels.authentication import SignedCall
from apps.channels.signed_api import signed_endpoint


class ChannelPingIn(serializers.Serializer):
    source = serializers.CharField()  # type: ignore[assignment]  # wire name; shadows DRF's Field.source
    channel = serializers.CharField()


class ChannelPingOut(serializers.Serializer):
    source = serializers.CharField()  # type: ignore[assignment]  # wire name; shadows DRF's Field.source
    channel = serializers.CharField()
    serverTime = serializers.IntegerField(help_text="Unix seconds: compare with your clock (±300 s allowed).")


@signed_endpoint(
    name="ping",
    operation_id="channel_ping",
    request=ChannelPingIn,
    responses=ChannelPingOut,
    summary="Check a channel's signing: answers who you are and the server's clock (signed)",
)
def ping(call: SignedCall) -> dict[str, Any]:
    """A signed call that does nothing else: lets a mall check its credential, signature and clock.

    Not in the reference contract (decision): integrating a signed API is easier with an endpoint whose
    only possible failures are the signing ones (0002, E0201, E0202, E0203). Its nonce is recorded like any
    other. The benchmarks also use it as the floor of every signed request.
    """
    caller = call.caller
    return {"source": caller.source, "channel": caller.channel, "serverTime": int(time.time())}
