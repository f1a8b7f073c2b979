"""The trial's fast parameter validator (``market_config_params``) answers exactly as ``MarketConfigRequest``."""

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
    padded,
    with_extras,
)
from apps.storefront.apis import MarketConfigRequest, market_config_params

GOOD = {
    "userId": st.one_of(IDS, st.sampled_from(["xiaofuge", "demo1", "用户1"]), st.integers(0, 10**6)),
    "source": st.sampled_from(["s01", "s02", " s01 "]),
    "channel": st.sampled_from(["c01", "c02"]),
    "goodsId": st.one_of(st.sampled_from(["9890001", "9890005"]), IDS),
}
LIMITS = {"userId": 64, "source": 16, "channel": 16, "goodsId": 32}
EIGHT_DIGITS = st.integers(10_000_000, 99_999_999)
# The optional teamId (issue 17: a trial about joining that team), the lock's rule.
TEAM_IDS = st.one_of(
    EIGHT_DIGITS.map(str),
    EIGHT_DIGITS,
    padded(EIGHT_DIGITS.map(str)),
    st.sampled_from(["", " ", None, "1234567", "123456789", "12345678\n", "1234567a", "12345678.0"]),
    st.text(st.characters(codec="ascii"), max_size=9),
    WHITESPACE,
    JUNK,
)
FIELDS = {**{name: id_values(LIMITS[name], good) for name, good in GOOD.items()}, "teamId": TEAM_IDS}
VALID = st.fixed_dictionaries(GOOD, optional={"teamId": EIGHT_DIGITS.map(str)})
PARAMS = with_extras(st.one_of(st.fixed_dictionaries(FIELDS), st.fixed_dictionaries({}, optional=FIELDS), VALID))
PROPERTY = settings(max_examples=600, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@PROPERTY
@given(params=PARAMS)
def test_the_validator_answers_as_the_serializer(language, params):
    assert_same_as_serializer(MarketConfigRequest, market_config_params, params, language)


def test_a_valid_request_is_trimmed_text():
    params = {"userId": " demo1 ", "source": "s01", "channel": "c01", "goodsId": 9890001, "extra": [1]}
    assert market_config_params(params) == {"userId": "demo1", "source": "s01", "channel": "c01", "goodsId": "9890001"}


def test_a_refusal_names_every_bad_field():
    with pytest.raises(GroupBuyError) as caught:
        market_config_params({"userId": "", "source": "s01", "channel": "c" * 17, "goodsId": None})
    assert (caught.value.code, list(caught.value.data)) == ("0002", ["userId", "channel", "goodsId"])


def test_a_team_id_is_kept_and_a_blank_one_dropped_to_none():
    base = {"userId": "demo1", "source": "s01", "channel": "c01", "goodsId": "9890001"}
    assert market_config_params({**base, "teamId": " 12345678 "})["teamId"] == "12345678"
    assert market_config_params({**base, "teamId": ""})["teamId"] == ""
    assert market_config_params({**base, "teamId": None})["teamId"] is None
    assert "teamId" not in market_config_params(base)
