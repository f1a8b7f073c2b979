"""Helpers of the channel tests: signed requests to the test-only endpoint of ``urls_signed``, refusals, Redis down."""

import json

from redis.exceptions import ConnectionError as RedisConnectionError

from apps.channels.signing import signed_headers
from apps.channels.tests.urls_signed import SIGNED_PATH

CHANNEL_SECRET = "s01c01-secret-0123456789abcdef"


def body_of(source="s01", channel="c01", **extra) -> bytes:
    return json.dumps({"userId": "xiaofuge", "source": source, "channel": channel, **extra}).encode()


def post_signed(
    client, body: bytes = b"", *, secret=CHANNEL_SECRET, sign_path=SIGNED_PATH, sign_body=None, **header_args
):
    """POST ``body`` to the signed endpoint; what is signed can differ from what is sent."""
    body = body or body_of()
    headers = signed_headers(secret, "POST", sign_path, body if sign_body is None else sign_body, **header_args)
    return client.post(SIGNED_PATH, data=body, content_type="application/json", headers=headers)


def assert_refused(response, code: str, status: int = 401) -> dict:
    payload = response.json()
    assert (response.status_code, payload["code"]) == (status, code), payload
    assert payload["info"]
    return payload


class UnreachableRedis:
    """Stands in for the cache and the raw client: every command fails to connect."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

        return fail
