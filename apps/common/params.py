"""Plain-Python twins of DRF's request fields, for the signed API's hot endpoints (the trial, the lock, settle).

A DRF serializer costs 0.2–0.6 ms of CPU per request (issue 16's profile); a rule here takes the same parsed
JSON value and answers the same validated value, or the same error messages (DRF's own strings, translated),
so a refusal is the same 0002 envelope ``{code, info, data: {field: [message]}}``. The serializers stay the
documented contract (OpenAPI); a hypothesis test per endpoint holds each validator to its serializer
(``apps/storefront/tests/test_market_params.py``, ``apps/trade/tests/test_lock_params.py``,
``apps/trade/tests/test_settle_params.py``).

Only what those serializers use is here: ``CharField`` (with ``IdField``'s defaults, a regex or a URL),
``IntegerField``, ``ChoiceField`` and a nested ``Serializer``, each with its ``required``/``allow_null``.
A field whose parsing is not worth a twin (settle's ``DateTimeField``) runs as itself: ``FieldRule``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import ProhibitNullCharactersValidator, URLValidator
from rest_framework import fields as drf_fields
from rest_framework import serializers as drf_serializers
from rest_framework.settings import api_settings
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from apps.common.errors import GroupBuyError, ResponseCode

MISSING: Any = drf_fields.empty  # a key absent from the request (what DRF calls ``empty``)

_FIELD = drf_fields.Field.default_error_messages
_CHAR = drf_fields.CharField.default_error_messages
_INTEGER = drf_fields.IntegerField.default_error_messages
_NULL_CHARACTERS = "\x00"
_SURROGATE = re.compile("[\ud800-\udfff]")
_URL = URLValidator()
# IntegerField's own: "1.0" and "1." are integers, "1.5" is not.
_DECIMAL_ZEROS = drf_fields.IntegerField.re_decimal


class Invalid(Exception):
    """One field's refusal: its messages (a list), or a nested mapping's ``{field: messages}``."""

    def __init__(self, detail: list[str] | dict[str, Any]) -> None:
        super().__init__(detail)
        self.detail = detail


def _empty(value: Any, *, required: bool, allow_null: bool) -> bool:
    """DRF's ``validate_empty_values``: True when the value is absent or null and allowed to be."""
    if value is MISSING:
        if required:
            raise Invalid([str(_FIELD["required"])])
        return True
    if value is None:
        if not allow_null:
            raise Invalid([str(_FIELD["null"])])
        return True
    return False


class Text:
    """``CharField`` (trimmed), optionally with ``RegexField``'s pattern or ``URLField``'s URL check."""

    __slots__ = ("allow_blank", "allow_null", "invalid", "max_length", "pattern", "required", "url")

    def __init__(
        self,
        *,
        max_length: int | None = None,
        allow_blank: bool = False,
        allow_null: bool = False,
        required: bool = True,
        pattern: str | None = None,
        url: bool = False,
    ) -> None:
        self.max_length, self.allow_blank, self.allow_null, self.required = (
            max_length,
            allow_blank,
            allow_null,
            required,
        )
        self.pattern = re.compile(pattern) if pattern else None
        self.url = url
        # A subclass's "invalid" message replaces CharField's, also for a value that is not text at all.
        self.invalid = (
            drf_fields.RegexField.default_error_messages["invalid"] if pattern
            else drf_fields.URLField.default_error_messages["invalid"] if url
            else _CHAR["invalid"]
        )  # fmt: skip

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if not text:  # CharField tests for blank before null and type
                if not self.allow_blank:
                    raise Invalid([str(_CHAR["blank"])])
                return ""
        elif _empty(value, required=self.required, allow_null=self.allow_null):
            return value if value is None else MISSING
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid([str(self.invalid)])
        else:
            text = str(value)  # numbers are accepted as their text, as DRF does
        errors = self._validators(text)
        if errors:
            raise Invalid(errors)
        return text

    def _validators(self, text: str) -> list[str]:
        """CharField's validators in DRF's order, every failing one reported."""
        errors = []
        if self.max_length is not None and len(text) > self.max_length:
            errors.append(str(_CHAR["max_length"]).format(max_length=self.max_length))
        if _NULL_CHARACTERS in text:
            errors.append(str(ProhibitNullCharactersValidator.message))
        if not text.isascii():
            surrogate = _SURROGATE.search(text)
            if surrogate:
                errors.append(str(ProhibitSurrogateCharactersValidator.message).format(code_point=ord(surrogate[0])))
        if self.pattern is not None and not self.pattern.search(text):
            errors.append(str(self.invalid))
        if self.url:
            try:
                _URL(text)
            except DjangoValidationError:
                errors.append(str(self.invalid))
        return errors


def id_text(max_length: int = 64, **options: Any) -> Text:
    """``apps.common.serializers.IdField``'s rule: non-blank trimmed text of at most ``max_length`` characters."""
    return Text(max_length=max_length, **options)


class Integer:
    """``IntegerField`` with an optional ``min_value`` and ``max_value``."""

    __slots__ = ("max_value", "min_value")

    def __init__(self, *, min_value: int | None = None, max_value: int | None = None) -> None:
        self.min_value = min_value
        self.max_value = max_value

    def __call__(self, value: Any) -> Any:
        if type(value) is int:  # the usual JSON number; bool is not int here
            number = value
        else:
            if _empty(value, required=True, allow_null=False):
                return MISSING
            if isinstance(value, str) and len(value) > drf_fields.IntegerField.MAX_STRING_LENGTH:
                raise Invalid([str(_INTEGER["max_string_length"])])
            try:
                number = int(_DECIMAL_ZEROS.sub("", str(value)))
            except (ValueError, TypeError):
                raise Invalid([str(_INTEGER["invalid"])]) from None
        if self.min_value is not None and number < self.min_value:
            raise Invalid([str(_INTEGER["min_value"]).format(min_value=self.min_value)])
        if self.max_value is not None and number > self.max_value:
            raise Invalid([str(_INTEGER["max_value"]).format(max_value=self.max_value)])
        return number


class Choice:
    """``ChoiceField`` over text choices."""

    __slots__ = ("choices", "required")

    def __init__(self, choices: list[str], *, required: bool = True) -> None:
        self.choices = {str(choice): choice for choice in choices}
        self.required = required

    def __call__(self, value: Any) -> Any:
        if _empty(value, required=self.required, allow_null=False):
            return MISSING
        try:
            return self.choices[str(value)]
        except KeyError:
            message = drf_fields.ChoiceField.default_error_messages["invalid_choice"]
            raise Invalid([str(message).format(input=value)]) from None


class FieldRule:
    """A DRF field's own validation, without a serializer around it: exact by construction, for a field whose
    parsing is not worth a twin (``DateTimeField``'s formats, time zones and overflow).

    The cost a serializer adds is its per-request deep copy of every field; here ONE instance serves every request
    and thread. That is safe for a plain field: ``run_validation`` only reads the field (its options, its error
    messages, ``root`` = itself); the one lazy attribute, ``validators``, is built here before any request; time
    zone and language are read per call from Django's thread-local state. A nested serializer or a field whose
    validators need context does not qualify.
    """

    __slots__ = ("field",)
    field: drf_fields.Field

    def __init__(self, field: drf_fields.Field) -> None:
        if isinstance(field, drf_serializers.BaseSerializer) or field.parent is not None:
            raise TypeError("FieldRule takes an unbound plain field")
        if any(getattr(validator, "requires_context", False) for validator in field.validators):
            raise TypeError("FieldRule takes a field whose validators need no context")
        self.field = field

    def __call__(self, value: Any) -> Any:
        try:
            return self.field.run_validation(value)
        except drf_fields.SkipField:  # absent, optional, no default: left out, as in validated_data
            return MISSING
        except drf_serializers.ValidationError as exc:
            # run_validators has already turned a Django validator's refusal into this list of messages.
            raise Invalid([str(message) for message in exc.detail]) from None


Rule = Callable[[Any], Any]


class Fields:
    """A ``Serializer``'s field validation: a mapping checked rule by rule, every field's errors reported.

    The validated mapping holds the fields present (an absent optional field is left out, as in DRF's
    ``validated_data``); errors are keyed by field name in declaration order.
    """

    __slots__ = ("allow_null", "required", "rules")

    def __init__(self, *, required: bool = True, allow_null: bool = False, **rules: Rule) -> None:
        self.rules = rules
        self.required, self.allow_null = required, allow_null

    def __call__(self, value: Any) -> Any:
        if value is MISSING or value is None:
            _empty(value, required=self.required, allow_null=self.allow_null)
            return value if value is None else MISSING
        if not isinstance(value, Mapping):
            message = str(drf_serializers.Serializer.default_error_messages["invalid"])
            raise Invalid({api_settings.NON_FIELD_ERRORS_KEY: [message.format(datatype=type(value).__name__)]})
        validated: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for name, rule in self.rules.items():
            try:
                result = rule(value.get(name, MISSING))
            except Invalid as exc:
                errors[name] = exc.detail
            else:
                if result is not MISSING:
                    validated[name] = result
        if errors:
            raise Invalid(errors)
        return validated


def params_validate(fields: Fields, params: Mapping[str, Any]) -> dict[str, Any]:
    """The request's parameters checked by ``fields``; a refusal is 0002 with the field errors in ``data``,
    the envelope the API exception handler makes of the serializer's ``ValidationError``."""
    try:
        return fields(params)
    except Invalid as exc:
        raise GroupBuyError(ResponseCode.ILLEGAL_PARAMETER, data=exc.detail) from None
