"""The lock's fast parameter validator (``lock_params``) answers exactly as ``LockRequest``, notify config included."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.common.errors import GroupBuyError
from apps.common.tests.param_strategies import (
    IDS,
    JUNK,
    WHITESPACE,
    assert_same_as_serializer,
    id_values,
    integer_values,
    padded,
    text_near,
    with_extras,
)
from apps.trade.apis import LockRequest, lock_params

EIGHT_DIGITS = st.integers(10_000_000, 99_999_999)
TEAM_IDS = st.one_of(
    EIGHT_DIGITS.map(str),
    EIGHT_DIGITS,
    padded(EIGHT_DIGITS.map(str)),
    st.sampled_from(["", " ", None, "1234567", "123456789", "12345678\n", "١٢٣٤٥٦٧٨", "1234567a", "12345678.0"]),
    st.text(st.characters(codec="ascii"), max_size=9),
    WHITESPACE,
    JUNK,
)
GOOD_URLS = st.sampled_from(
    [
        "http://127.0.0.1:9/cb",
        "https://mall.example.com/notify?x=1",
        "http://localhost:8080/a/b#f",
        "http://例子.测试/x",
        "http://[::1]:80/",
        "https://" + "a" * 60 + ".com/" + "p" * 441,
    ]
)
URLS = st.one_of(
    GOOD_URLS,
    padded(GOOD_URLS),
    st.sampled_from(
        [
            "",
            " ",
            "ftp://x.com/a",
            "not a url",
            "http://exa mple.com",
            "http://x.com/\nx",
            "http://",
            "https://" + "a" * 60 + ".com/" + "p" * 442,
            "http://x.com/\x00",
            "http://x.com/\ud800",
            "mq",
        ]
    ),
    padded(text_near(512)),
    st.text(max_size=8),
    JUNK,
)
NOTIFY_TYPES = st.one_of(st.sampled_from(["HTTP", "MQ", "http", "mq", "", " HTTP", "SMS"]), JUNK)
NOTIFY_CONFIGS = st.one_of(
    st.none(),
    st.fixed_dictionaries({"notifyType": st.sampled_from(["HTTP", "MQ"])}, optional={"notifyUrl": GOOD_URLS}),
    st.fixed_dictionaries({}, optional={"notifyType": NOTIFY_TYPES, "notifyUrl": URLS}),
    with_extras(st.fixed_dictionaries({"notifyType": NOTIFY_TYPES, "notifyUrl": URLS})),
    JUNK,
    st.text(max_size=4),
)
GOOD = {
    "userId": st.one_of(IDS, st.sampled_from(["xiaofuge", "demo1", "用户1"]), st.integers(0, 10**6)),
    "activityId": st.one_of(st.integers(1, 10**12), st.sampled_from(["100123", 100123.0, " 7 "])),
    "goodsId": st.one_of(st.sampled_from(["9890001", "9890005"]), IDS),
    "source": st.sampled_from(["s01", "s02"]),
    "channel": st.sampled_from(["c01", "c02"]),
    "outTradeNo": st.one_of(IDS, st.integers(0, 10**12)),
}
GOOD_OPTIONAL = {
    "teamId": st.one_of(st.sampled_from([None, ""]), EIGHT_DIGITS.map(str)),
    "notifyConfigVO": st.one_of(
        st.none(),
        st.fixed_dictionaries({"notifyType": st.sampled_from(["HTTP", "MQ"])}, optional={"notifyUrl": GOOD_URLS}),
    ),
    "notifyUrl": st.one_of(st.just(""), GOOD_URLS),
}
OPTIONAL = {"teamId": TEAM_IDS, "notifyConfigVO": NOTIFY_CONFIGS, "notifyUrl": URLS}
LIMITS = {"userId": 64, "goodsId": 32, "source": 16, "channel": 16, "outTradeNo": 64}
FIELDS = {
    **{name: id_values(limit, GOOD[name]) for name, limit in LIMITS.items()},
    "activityId": integer_values(),
}
PARAMS = with_extras(
    st.one_of(
        st.fixed_dictionaries(GOOD, optional=GOOD_OPTIONAL),  # valid fields: the notify config decides
        st.fixed_dictionaries(GOOD, optional=OPTIONAL),
        st.fixed_dictionaries(FIELDS, optional=OPTIONAL),
        st.fixed_dictionaries({}, optional={**FIELDS, **OPTIONAL}),
    )
)
PROPERTY = settings(max_examples=800, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@PROPERTY
@given(params=PARAMS)
def test_the_validator_answers_as_the_serializer(language, params):
    assert_same_as_serializer(LockRequest, lock_params, params, language)


BASE = {
    "userId": "demo1",
    "activityId": 100123,
    "goodsId": "9890001",
    "source": "s01",
    "channel": "c01",
    "outTradeNo": "OTN-1",
}


@pytest.mark.parametrize(
    ("extra", "notify"),
    [
        ({}, ("MQ", "")),
        ({"notifyUrl": "http://127.0.0.1:9/cb"}, ("HTTP", "http://127.0.0.1:9/cb")),
        ({"notifyConfigVO": {"notifyType": "MQ"}, "notifyUrl": "http://127.0.0.1:9/cb"}, ("MQ", "")),
        (
            {"notifyConfigVO": {"notifyType": "HTTP", "notifyUrl": "https://a.example/x"}},
            ("HTTP", "https://a.example/x"),
        ),
        ({"notifyConfigVO": None, "teamId": None}, ("MQ", "")),
    ],
)
def test_the_notify_config_resolves_nested_or_flat(extra, notify):
    data = lock_params({**BASE, **extra})
    assert (data["notify_type"], data["notify_url"]) == notify


def test_http_without_a_url_is_refused_on_notify_url():
    with pytest.raises(GroupBuyError) as caught:
        lock_params({**BASE, "notifyConfigVO": {"notifyType": "HTTP"}})
    assert (caught.value.code, caught.value.data) == ("0002", {"notifyUrl": ["an HTTP callback needs notifyUrl"]})


def test_a_nested_refusal_is_nested():
    with pytest.raises(GroupBuyError) as caught:
        lock_params({**BASE, "activityId": 0, "notifyConfigVO": {"notifyType": "SMS"}})
    assert set(caught.value.data) == {"activityId", "notifyConfigVO"}
    assert set(caught.value.data["notifyConfigVO"]) == {"notifyType"}
