"""The WeChat protocol functions: signature vectors computed outside Python, and the guarded XML parser.

printf '%s' 1234567891700000000groupbuy-weixin-token | sha1sum   # sorted(token, ts, nonce), joined
"""

import pytest

from apps.accounts.weixin import (
    DEFAULT_WEIXIN_TOKEN,
    MAX_BODY_BYTES,
    ScanEvent,
    WeixinXmlError,
    parse_weixin_xml,
    scan_event_of,
    verify_weixin_signature,
    weixin_signature,
    weixin_token,
)

TICKET = "A" * 32
# printf '%s' 1234567891700000000groupbuy-weixin-token | sha1sum
DEFAULT_VECTOR = "615066ed5ee57f6d8affdd8de1f1b2fcbb0e2609"
# printf '%s' 1234567891700000000test-weixin-token | sha1sum
TEST_VECTOR = "f59c78bcaad5726565f9a1066d315ab5950dbe45"


def test_signature_matches_sha1sum_vectors():
    assert weixin_signature("groupbuy-weixin-token", "1700000000", "123456789") == DEFAULT_VECTOR
    assert weixin_signature("test-weixin-token", "1700000000", "123456789") == TEST_VECTOR
    # sorted: the argument order does not matter
    assert weixin_signature("123456789", "test-weixin-token", "1700000000") == TEST_VECTOR


@pytest.mark.parametrize("signature", [TEST_VECTOR, TEST_VECTOR.upper()])
def test_verify_accepts_either_case(signature):
    assert verify_weixin_signature("test-weixin-token", "1700000000", "123456789", signature)


@pytest.mark.parametrize("signature", [None, "", TEST_VECTOR[:-1], "é" * 40, DEFAULT_VECTOR])
def test_verify_rejects_junk_and_other_tokens(signature):
    assert not verify_weixin_signature("test-weixin-token", "1700000000", "123456789", signature)


def test_a_blank_token_never_verifies():
    assert not verify_weixin_signature("", "1700000000", "123456789", weixin_signature("", "1700000000", "123456789"))


def test_token_comes_from_settings_then_environment_then_default(settings, monkeypatch):
    assert weixin_token() == "test-weixin-token"  # the autouse fixture's settings value
    del settings.WEIXIN_TOKEN
    monkeypatch.setenv("WEIXIN_TOKEN", "from-env")
    assert weixin_token() == "from-env"
    monkeypatch.delenv("WEIXIN_TOKEN")
    assert weixin_token() == DEFAULT_WEIXIN_TOKEN


def test_parse_a_wechat_event_with_cdata():
    body = (
        b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oAbC-12_x]]></FromUserName>"
        b"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[" + TICKET.encode() +
        b"]]></EventKey><EventKey>second</EventKey></xml>"
    )  # fmt: skip
    message = parse_weixin_xml(body)
    assert message["FromUserName"] == "oAbC-12_x"
    assert message["EventKey"] == TICKET  # the first occurrence wins
    assert scan_event_of(message) == ScanEvent(openid="oAbC-12_x", ticket=TICKET)


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><EventKey>&a;</EventKey></xml>',
        b'<!doctype xml SYSTEM "file:///etc/passwd"><xml/>',
        b"<xml><!ENTITY x SYSTEM 'http://evil/'></xml>",
        b"<! DOCTYPE xml><xml/>",
        # UTF-16 would hide "<!DOCTYPE" from a byte search: refused as non-UTF-8 or for its NULs.
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><xml/>'.encode("utf-16"),
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><xml/>'.encode("utf-16-le"),
        b"\xff\xfe<xml/>",
        b"<xml><a>unclosed</xml>",
        b"not xml at all",
        b"<notxml><a>1</a></notxml>",
        b"<xml>" + b"x" * MAX_BODY_BYTES + b"</xml>",
    ],
    ids=[
        "doctype-entity",
        "doctype-lowercase-system",
        "entity",
        "doctype-space",
        "utf16-bom",
        "utf16-no-bom",
        "bad-utf8",
        "malformed",
        "text",
        "wrong-root",
        "too-large",
    ],
)
def test_unacceptable_bodies_are_refused(body):
    with pytest.raises(WeixinXmlError):
        parse_weixin_xml(body)


def test_a_declared_foreign_encoding_is_read_as_utf8():
    body = '<?xml version="1.0" encoding="ISO-8859-1"?><xml><Content>拼团</Content></xml>'.encode()
    assert parse_weixin_xml(body)["Content"] == "拼团"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"MsgType": "event", "Event": "SCAN", "EventKey": TICKET, "FromUserName": "o1"}, ScanEvent("o1", TICKET)),
        (
            {"MsgType": "event", "Event": "subscribe", "EventKey": f"qrscene_{TICKET}", "FromUserName": "o1"},
            ScanEvent("o1", TICKET),
        ),
        ({"MsgType": "event", "Event": "subscribe", "EventKey": "", "FromUserName": "o1"}, None),  # plain follow
        ({"MsgType": "event", "Event": "subscribe", "EventKey": TICKET, "FromUserName": "o1"}, None),  # no prefix
        ({"MsgType": "event", "Event": "unsubscribe", "EventKey": TICKET, "FromUserName": "o1"}, None),
        ({"MsgType": "text", "Content": TICKET, "FromUserName": "o1"}, None),
        ({"MsgType": "event", "Event": "SCAN", "EventKey": "short", "FromUserName": "o1"}, None),
        ({"MsgType": "event", "Event": "SCAN", "EventKey": TICKET, "FromUserName": "bad openid!"}, None),
        ({"MsgType": "event", "Event": "SCAN", "EventKey": TICKET, "FromUserName": ""}, None),
    ],
)
def test_scan_events(message, expected):
    assert scan_event_of(message) == expected
