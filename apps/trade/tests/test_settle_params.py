"""Settle's fast parameter validator (``settle_params``) answers exactly as ``SettleRequest``: the same values (the
same instant in the same time zone) or the same 0002 field errors, ``outTradeTime`` in both formats included."""

from datetime import UTC, datetime, timedelta
from datetime import timezone as fixed_offset

import pytest
from django.utils import timezone, translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.common.errors import GroupBuyError
from apps.common.params import MISSING, FieldRule
from apps.common.serializers import IdField
from apps.common.tests.param_strategies import (
    IDS,
    JUNK,
    WHITESPACE,
    assert_same_as_serializer,
    id_values,
    padded,
    with_extras,
)
from apps.trade.apis import SettleRequest, TradeTimeField, settle_params

# The active time zone decides what a naive time means: the default one, one with DST gaps and folds, UTC.
ZONES = st.sampled_from(["Asia/Shanghai", "America/New_York", "UTC"])
OFFSETS = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)).map(
    lambda delta: fixed_offset(timedelta(minutes=delta // timedelta(minutes=1)))
)
NAIVE = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))
AWARE = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59), timezones=OFFSETS)
REFERENCE = NAIVE.map(lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S"))  # the reference's format, local time
ISO = st.one_of(
    NAIVE.map(datetime.isoformat),
    AWARE.map(datetime.isoformat),
    AWARE.map(lambda moment: moment.isoformat(sep=" ", timespec="minutes")),
    NAIVE.map(lambda moment: moment.isoformat(timespec="milliseconds") + "Z"),
)
NEAR_MISSES = st.sampled_from(
    [
        "2026-01-01 10:00:00",
        "2026-01-01T10:00:00+08:00",
        "2026-01-01T02:00:00Z",
        "2026-01-01",
        "2026-01-01 10:00",
        "2026-01-01 10:00:00.5",
        "2026/01/01 10:00:00",
        "2026-13-01 10:00:00",
        "2026-02-30 10:00:00",
        "2026-01-01 24:00:00",
        "2026-01-01T10:00:00+25:00",
        "20260101T100000",
        "２０２６-01-01 10:00:00",
        "2026-01-01 10:00:00\x00",
        "2026-01-01 10:00:00\ud800",
        "0001-01-01T00:00:00+14:00",  # out of range once moved to the current time zone: overflow
        "9999-12-31T23:59:59-14:00",
        "0001-01-01 00:00:00",
        "9999-12-31 23:59:59",
        "2026-03-08 02:30:00",  # in a DST gap in New York (DRF's make_aware check lets gaps and folds pass)
        "2026-11-01 01:30:00",  # in a DST fold in New York
        "1986-05-04 02:30:00",  # Shanghai had DST from 1986 to 1991
        "0001-01-01 08:00:00",  # naive at the calendar's edge: out of range in Shanghai (TradeTimeField's guard)
        "yesterday",
        "",
        "now",
    ]
)
TIMES = st.one_of(REFERENCE, ISO, NEAR_MISSES, padded(NEAR_MISSES), WHITESPACE, st.text(max_size=20), JUNK)
GOOD = {
    "userId": st.one_of(IDS, st.sampled_from(["xiaofuge", "demo1", "用户1"]), st.integers(0, 10**6)),
    "source": st.sampled_from(["s01", "s02", " s01 "]),
    "channel": st.sampled_from(["c01", "c02"]),
    "outTradeNo": st.one_of(IDS, st.integers(0, 10**12)),
    "outTradeTime": st.one_of(REFERENCE, ISO),
}
LIMITS = {"userId": 64, "source": 16, "channel": 16, "outTradeNo": 64}
FIELDS = {**{name: id_values(limit, GOOD[name]) for name, limit in LIMITS.items()}, "outTradeTime": TIMES}
PARAMS = with_extras(
    st.one_of(
        st.fixed_dictionaries(GOOD),
        st.fixed_dictionaries({**GOOD, "outTradeTime": TIMES}),
        st.fixed_dictionaries(FIELDS),
        st.fixed_dictionaries({}, optional=FIELDS),
    )
)
PROPERTY = settings(max_examples=800, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@PROPERTY
@given(params=PARAMS, zone=ZONES)
def test_the_validator_answers_as_the_serializer(language, params, zone):
    with timezone.override(zone):
        assert_same_as_serializer(SettleRequest, settle_params, params, language)
        serializer = SettleRequest(data=params)
        if serializer.is_valid():  # equal datetimes may differ in zone or fold: the same repr is the same value
            assert repr(settle_params(params)) == repr(dict(serializer.validated_data)), params


BASE = {"userId": " demo1 ", "source": "s01", "channel": "c01", "outTradeNo": 42, "extra": [1]}


def test_a_naive_reference_time_is_in_the_current_time_zone():
    with timezone.override("Asia/Shanghai"):
        data = settle_params({**BASE, "outTradeTime": "2026-01-01 10:00:00"})
    assert data == {
        "userId": "demo1",
        "source": "s01",
        "channel": "c01",
        "outTradeNo": "42",
        "outTradeTime": datetime(2026, 1, 1, 2, tzinfo=UTC),
    }
    assert str(data["outTradeTime"].tzinfo) == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("moment", "message"),
    [
        ("yesterday", "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DD hh:mm:ss, "
                      "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."),
        ("0001-01-01T00:00:00+14:00", "Datetime value out of range."),
        ("9999-12-31 23:59:59", "Datetime value out of range."),  # naive: TradeTimeField's own guard
    ],
)  # fmt: skip
def test_a_refused_time_says_why(moment, message):
    with translation.override("en"), timezone.override("America/New_York"), pytest.raises(GroupBuyError) as caught:
        settle_params({**BASE, "userId": "", "outTradeTime": moment})
    assert (caught.value.code, caught.value.data) == (
        "0002",
        {"userId": ["This field may not be blank."], "outTradeTime": [message]},
    )


class _NeedsContext:
    requires_context = True

    def __call__(self, value, field):  # pragma: no cover - refused before any call
        raise AssertionError


def test_a_field_rule_takes_only_a_plain_unbound_field():
    for field in (SettleRequest(), SettleRequest().fields["outTradeTime"], IdField(validators=[_NeedsContext()])):
        with pytest.raises(TypeError):
            FieldRule(field)
    assert FieldRule(TradeTimeField(required=False))(MISSING) is MISSING  # absent and optional: left out
    assert FieldRule(IdField())(" x ") == "x"
