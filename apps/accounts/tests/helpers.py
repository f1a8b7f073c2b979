"""Helpers of the accounts tests: signed WeChat portal deliveries, signed channel requests, the API paths, races."""

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from django.db import connections
from redis.exceptions import ConnectionError as RedisConnectionError

from apps.accounts.signing import signed_headers
from apps.accounts.tests.urls_signed import SIGNED_PATH
from apps.accounts.weixin import weixin_signature

WEIXIN_TOKEN = "test-weixin-token"
PORTAL = "/api/v1/weixin/portal/receive"
TICKET_API = "/api/v1/login/weixin_qrcode_ticket"
CHECK_API = "/api/v1/login/check_login"
CONFIRM_API = "/api/v1/login/confirm"
DEVICE_MIDDLEWARE = "apps.accounts.middleware.TrustedDeviceMiddleware"


def scan_xml(openid: str, ticket: str, event: str = "SCAN") -> bytes:
    key = f"qrscene_{ticket}" if event == "subscribe" else ticket
    return (
        "<xml><ToUserName><![CDATA[gh_groupbuy]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>1700000000</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
        f"<EventKey><![CDATA[{key}]]></EventKey></xml>"
    ).encode()


def signed_query(token: str = WEIXIN_TOKEN, timestamp: str | None = None, nonce: str | None = None) -> str:
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or str(uuid.uuid4().int)[:10]
    return f"signature={weixin_signature(token, timestamp, nonce)}&timestamp={timestamp}&nonce={nonce}"


def portal_post(client, body: bytes, query: str | None = None):
    return client.generic("POST", f"{PORTAL}?{query or signed_query()}", body, content_type="text/xml")


# --- signed channel requests (the test-only endpoint of urls_signed) ---------------------------------

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


def race(function, count: int) -> list:
    """``function(index)`` in ``count`` threads released at once; their results in index order."""
    barrier = threading.Barrier(count)

    def run(index: int):
        barrier.wait()
        try:
            return function(index)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))
