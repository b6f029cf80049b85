"""JSON text is read by orjson where it reads it exactly as json does (core/jsonread.py ``loads``): a dump's
lines (str) and a site's reply bodies (bytes) decode to the same values as ``json.loads`` (big ints, NaN, lone
surrogates, duplicate keys, floats) and fail with the same errors, json's own message; only nesting between
json's recursion limit and orjson's 1,024 levels reads where json raises RecursionError."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sg2dbt.core.jsonread import loads


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


def _expected(text: str | bytes) -> tuple[str, str]:
    """json.loads's outcome; where json only ran out of recursion and orjson reads the text (to 1,024
    levels), orjson's value: json's limit is Python's recursion limit less the caller's stack."""
    outcome = _outcome(json.loads, text)
    if outcome == ("error", "RecursionError") and _outcome(orjson.loads, text)[0] == "value":
        return _outcome(orjson.loads, text)
    return outcome


@pytest.mark.parametrize("as_bytes", [False, True], ids=["dump line", "reply body"])
@pytest.mark.parametrize("text", TEXTS)
def test_a_text_parses_as_json_loads_parses_it(text: str, as_bytes: bool) -> None:
    data = text.encode("utf-8", "surrogatepass") if as_bytes else text
    assert _outcome(loads, data) == _expected(data)


_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6))
_documents = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=4)), max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(_documents, st.sampled_from([None, 1]), st.booleans())
def test_documents_json_writes_parse_as_json_loads_parses_them(doc: Any, indent: int | None, ascii_: bool) -> None:
    text = json.dumps(doc, indent=indent, ensure_ascii=ascii_)
    assert _outcome(loads, text) == _expected(text)


_TOKENS = ['{', '}', '[', ']', ':', ',', '"', '\\', ' ', '\n', '-', '+', '.', 'e', 'E', '0', '1', '9', 'true',
           'false', 'null', 'NaN', 'Infinity', '"a"', '"\\u00e9"', '"\\ud800"', '\\u', '12345678901234567890', 'é']


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=12).map("".join))
def test_token_soup_parses_or_fails_as_json_loads(text: str) -> None:
    assert _outcome(loads, text) == _expected(text)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
              st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**19, 123456789012345678901234567890]),
              st.floats(), st.text(max_size=20), st.sampled_from(["\ud800", "a\udfffb", "é", "\x00"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=20)


def _same(a: Any, b: Any) -> bool:
    """Equal, type for type (1 and 1.0 differ, as do 0.0 and -0.0), NaN equal to NaN."""
    return repr(a) == repr(b) and type(a) is type(b)


@settings(max_examples=400, deadline=None)
@given(value=JSON_VALUES, ascii_only=st.booleans())
def test_replies_decode_to_what_json_loads_gives(value: Any, ascii_only: bool) -> None:
    """Big integers, NaN, infinities, lone surrogates (escaped or as bytes) and floats decode as shotgun_api3's
    ``json.loads`` decodes them, whichever decoder answers."""
    body = json.dumps({"results": value}, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert _same(loads(body), json.loads(body))


@pytest.mark.parametrize("body", [b'{"a": 1e400}', b'{"a": NaN}', b'{"a": -Infinity}', b'"\\ud800"',
                                  b'\xef\xbb\xbf{"a": 1}', b'[18446744073709551616, -9223372036854775809]',
                                  b'[0.30000000000000004, 5e-324, 1.7976931348623157e308, -0.0]'])
def test_what_orjson_refuses_or_rounds_is_decoded_by_json(body: bytes) -> None:
    assert _same(loads(body), json.loads(body))


@pytest.mark.parametrize("body", [b'{"a": 1', b'{"a": "x\ny"}', b"\xff", b'{"a": 1} x'])
def test_a_damaged_reply_raises_what_json_loads_raises(body: bytes) -> None:
    with pytest.raises(ValueError) as theirs:
        json.loads(body)
    with pytest.raises(ValueError) as ours:
        loads(body)
    assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))   # json's own error


