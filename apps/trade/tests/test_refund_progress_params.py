"""Refund's and team progress's fast parameter validators answer exactly as ``RefundRequest`` and
``TeamProgressParams``: the same values or the same 0002 field errors."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.common.tests.param_strategies import (
    IDS,
    JUNK,
    WHITESPACE,
    assert_same_as_serializer,
    id_values,
    padded,
    with_extras,
)
from apps.trade.apis import RefundRequest, TeamProgressParams, refund_params, team_progress_params

EIGHT_DIGITS = st.integers(10_000_000, 99_999_999)
TEAM_IDS = st.one_of(
    EIGHT_DIGITS.map(str),
    padded(EIGHT_DIGITS.map(str)),
    st.sampled_from(["", " ", "1234567", "123456789", "12345678\n", "١٢٣٤٥٦٧٨", "1234567a", "12345678.0"]),
    st.text(st.characters(codec="ascii"), max_size=9),
    WHITESPACE,
    EIGHT_DIGITS,
    JUNK,
)
CALLER = {"source": st.sampled_from(["s01", "s02", " s01 "]), "channel": st.sampled_from(["c01", "c02"])}
REFUND = {
    "userId": st.one_of(IDS, st.sampled_from(["xiaofuge", "demo1", "用户1"]), st.integers(0, 10**6)),
    **CALLER,
    "outTradeNo": st.one_of(IDS, st.integers(0, 10**12)),
}
REFUND_LIMITS = {"userId": 64, "source": 16, "channel": 16, "outTradeNo": 64}
REFUND_FIELDS = {name: id_values(limit, REFUND[name]) for name, limit in REFUND_LIMITS.items()}
# A GET's query string: every value is text (the lane hands over the last value of each key).
PROGRESS = {"teamId": EIGHT_DIGITS.map(str), **CALLER}
PROGRESS_FIELDS = {
    "teamId": TEAM_IDS,
    "source": id_values(16, CALLER["source"]),
    "channel": id_values(16, CALLER["channel"]),
}


def params(valid: dict, fields: dict) -> st.SearchStrategy[dict]:
    return with_extras(
        st.one_of(
            st.fixed_dictionaries(valid), st.fixed_dictionaries(fields), st.fixed_dictionaries({}, optional=fields)
        )
    )


PROPERTY = settings(max_examples=500, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@PROPERTY
@given(refund=params(REFUND, REFUND_FIELDS), progress=params(PROGRESS, PROGRESS_FIELDS))
def test_the_validators_answer_as_their_serializers(language, refund, progress):
    assert_same_as_serializer(RefundRequest, refund_params, refund, language)
    assert_same_as_serializer(TeamProgressParams, team_progress_params, progress, language)
