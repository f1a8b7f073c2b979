"""Hypothesis strategies for request parameters as ``json.loads`` hands them over: the values a signed body's
fields can hold, valid, near the limits, of the wrong type, blank, null, unicode (lone surrogates included:
JSON's ``\\ud800`` escapes decode to them) — and a helper that compares a validator with its serializer."""

from typing import Any

from django.utils import translation
from hypothesis import event
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from apps.common.api import exception_handler
from apps.common.errors import GroupBuyError

# Short visible-ASCII ids: what malls send as userId, goodsId, outTradeNo.
IDS = st.text(st.characters(codec="ascii", min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12)
WHITESPACE = st.sampled_from([" ", "  ", "\t", "\n", "\r\n", "\u3000", "\xa0", "\x1c", "\x85", "\u2028"])
SPECIAL = st.sampled_from(["\x00", "\ud800", "\udfff", "\udc80", "é", "拼", "\U0001f600", "\u200b", "%", "{", "\u0660"])
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)

# JSON values of the wrong kind for a text or an integer field (floats as json.loads makes them: finite).
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.one_of(st.integers(), st.text(max_size=3)), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def padded(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``inner`` with whitespace around it, sometimes (fields are trimmed before their length is checked)."""
    return st.builds(
        lambda left, text, right: left + text + right,
        st.one_of(st.just(""), WHITESPACE),
        inner,
        st.one_of(st.just(""), WHITESPACE),
    )


def text_near(limit: int) -> st.SearchStrategy[str]:
    """Text around a length limit: limit-1, limit, limit+1 characters, ASCII or not."""
    alphabet = st.one_of(st.characters(codec="ascii", min_codepoint=0x21), st.characters(), SPECIAL)
    return st.one_of(
        st.text(st.characters(codec="ascii", min_codepoint=0x21), min_size=limit - 1, max_size=limit + 1),
        st.text(alphabet, min_size=limit - 1, max_size=limit + 1),
    )


def id_values(limit: int, valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """What an ``IdField(max_length=limit)`` may be sent: ``valid`` values mostly, then everything else."""
    return st.one_of(
        valid,
        valid,
        padded(valid.map(str)),
        padded(text_near(limit)),
        st.just(""),
        WHITESPACE,
        st.text(max_size=6),
        st.text(st.one_of(SPECIAL, SURROGATES, st.characters()), max_size=6),
        JUNK,
    )


def integer_values() -> st.SearchStrategy[Any]:
    """What an ``IntegerField`` may be sent: JSON numbers and the strings DRF reads as numbers, or not."""
    return st.one_of(
        st.integers(min_value=-3, max_value=200_000),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([1.0, 100123.0, 1e15, 1e16, 1e20, -0.0, 0.5]),
        st.integers(min_value=-3, max_value=200_000).map(str),
        st.sampled_from(
            [
                "100123",
                " 100123 ",
                "100123.0",
                "100123.",
                "100123.00 ",
                "1_000",
                "١٢٣",
                "1e3",
                "0x10",
                "+5",
                "",
                " ",
                "1" * 1001,
                "1" * 1000,
                "abc",
            ]
        ),
        st.booleans(),
        JUNK,
    )


def with_extras(params: st.SearchStrategy[dict]) -> st.SearchStrategy[dict]:
    """``params`` plus, sometimes, keys no serializer declares (they are ignored)."""
    extras = st.dictionaries(st.sampled_from(["extra", "userid", "USERID", "notify_type", "x"]), JUNK, max_size=2)
    return st.one_of(params, st.builds(lambda extra, base: {**extra, **base}, extras, params))


def assert_same_as_serializer(serializer_class: type, validator: Any, params: dict, language: str) -> None:
    """``validator`` accepts exactly when the serializer does, with equal validated data; a refusal is the same
    0002 envelope (status, code, info and the field errors in ``data``) the API exception handler makes of the
    serializer's ``ValidationError``."""
    with translation.override(language):
        serializer = serializer_class(data=params)
        accepted = serializer.is_valid()
        try:
            validated, refusal = validator(params), None
        except GroupBuyError as exc:
            validated, refusal = None, exc
        event("accepted" if accepted else "refused")
        if accepted:
            assert refusal is None, (params, refusal.data)
            assert validated == serializer.validated_data, params
            return
        assert refusal is not None, (params, serializer.errors)
        expected = exception_handler(ValidationError(serializer.errors), {})
        answer = exception_handler(refusal, {})
        assert isinstance(expected, Response) and isinstance(answer, Response)
        assert (answer.status_code, answer.data) == (expected.status_code, expected.data), params
