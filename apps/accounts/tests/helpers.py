"""Helpers of the accounts tests: signed WeChat portal deliveries, the API paths, races."""

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from django.db import connections

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
