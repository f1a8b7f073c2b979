"""Helpers of the login tests: signed WeChat portal deliveries and the API paths."""

import time
import uuid

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
