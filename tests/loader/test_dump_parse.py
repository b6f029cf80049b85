"""A dump's records are parsed by orjson where it reads them exactly as json does (loader/dump.py
``parse_json``): the same values (big ints, NaN, lone surrogates, duplicate keys, floats) and the same refusals,
with json's own message, as ``json.loads``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sg2dbt.loader.dump import parse_json


def _outcome(parse: Any, text: str) -> tuple[str, str]:
    """What a parser makes of ``text``: the value's repr (types, -0.0, nan and key order show), or the error."""
    try:
        value = parse(text)
    except RecursionError:
        return "error", "RecursionError"
    except ValueError as exc:   # json.JSONDecodeError
        return "error", f"{type(exc).__name__}: {exc}"
    try:
        return "value", repr(value)
    except RecursionError:   # read, but too deep for repr
        return "value", "deep"


TEXTS = [
    # integers at and past 64 bits (orjson would read these as floats), alone and nested
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
    "18446744073709551615", "18446744073709551616", "123456789012345678901234567890",
    '{"id": 1, "n": 99999999999999999999}', '[{"type": "Shot", "id": 100000000000000000000}]',
    '{"code": "digits 12345678901234567890 in text"}', "123456789012345678", "-0", "-0.0", "0.0",
    # what json reads and orjson refuses
    "NaN", "-Infinity", "Infinity", '{"f": NaN}', "1e400", "-1e400", "[1.7976931348623157e309]",
    '"\\ud800"', '{"k": "x\\udc00y"}', '"\\ud83d\\ude00"', '"\\u0000"',
    # floats at the edges of a double
    "5e-324", "2.2250738585072014e-308", "1.7976931348623157e308", "1e-400", "0.1", "1e22", "1E+2", "3.0e0",
    # duplicate keys: the last value, at the first key's place
    '{"a": 1, "b": 2, "a": 3}', '{"a": {"x": 1}, "a": [2]}',
    # refusals: json's own message
    "", " ", "[1,", "[1,]", '{"a":1,}', "01", "1.", ".5", "+1", "0x10", "'a'", '"\\x41"', '"a\tb"', "\ufeff{}",
    "{}\x0c", "{}\u00a0", "\u2028{}", "[] []", "nul", "tru", '{"a" 1}', '{1: 2}', '"abc', "[\"\\u12\"]",
    # whitespace json allows
    " \t{\r\n}\n ",
    # nesting near and past json's recursion limit (orjson reads up to 1,024 levels)
    "[" * 600 + "]" * 600, "[" * 990 + "]" * 990, "[" * 1000 + "]" * 1000, "[" * 1100 + "]" * 1100,
    '{"a":' * 995 + "1" + "}" * 995,
]


@pytest.mark.parametrize("text", TEXTS)
def test_a_dump_text_parses_as_json_loads_parses_it(text: str) -> None:
    assert _outcome(parse_json, text) == _outcome(json.loads, text)


_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6))
_documents = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=4)), max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(_documents, st.sampled_from([None, 1]), st.booleans())
def test_documents_json_writes_parse_as_json_loads_parses_them(doc: Any, indent: int | None, ascii_: bool) -> None:
    text = json.dumps(doc, indent=indent, ensure_ascii=ascii_)
    assert _outcome(parse_json, text) == _outcome(json.loads, text)


_TOKENS = ['{', '}', '[', ']', ':', ',', '"', '\\', ' ', '\n', '-', '+', '.', 'e', 'E', '0', '1', '9', 'true',
           'false', 'null', 'NaN', 'Infinity', '"a"', '"\\u00e9"', '"\\ud800"', '\\u', '12345678901234567890', 'é']


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=12).map("".join))
def test_token_soup_parses_or_fails_as_json_loads(text: str) -> None:
    assert _outcome(parse_json, text) == _outcome(json.loads, text)
