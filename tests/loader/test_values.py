"""The value rules of :mod:`sg2dbt.core.values`: each lossless coercion, each refusal, and the row
converter's compiled fast path agreeing with the rules on any value (hypothesis)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sg2dbt.core import values
from sg2dbt.core.convert import RowConverter
from sg2dbt.core.errors import ValueFitError
from sg2dbt.core.layout import plan
from sg2dbt.core.model import Entity, Field, Schema
from sg2dbt.core.typemap import STORAGE
from tests.support.damaged import damaged_values

UTC = dt.timezone.utc

TYPES = ["text", "number", "float", "currency", "percent", "duration", "timecode", "checkbox", "date",
         "date_time", "url", "serializable", "tag_list", "entity", "multi_entity"]


def _schema() -> Schema:
    fields = [Field("Thing", "id", "number")]
    fields += [Field("Thing", f"f_{t}", t, valid_types=("Thing",) if "entity" in t else ()) for t in TYPES]
    return Schema.of([Entity.of("Thing", "Thing", fields)])


@pytest.mark.parametrize(("rule", "given_value", "expected"), [
    (values.to_bigint, "12", 12), (values.to_bigint, "-3", -3), (values.to_bigint, "+7", 7),
    (values.to_bigint, "12.0", 12), (values.to_bigint, "1e3", 1000), (values.to_bigint, 12.0, 12),
    (values.to_bigint, "9223372036854775807", 2**63 - 1),
    (values.to_double, "1.85", 1.85), (values.to_double, "12", 12.0), (values.to_double, "-1.5e3", -1500.0),
    (values.to_double, 3, 3.0), (values.to_double, 2**53, float(2**53)), (values.to_double, ".5", 0.5),
    (values.to_boolean, "true", True), (values.to_boolean, "FALSE", False), (values.to_boolean, "True", True),
    (values.to_text, 12, "12"), (values.to_text, True, "true"), (values.to_text, {"a": 1}, '{"a":1}'),
])
def test_each_lossless_coercion(rule: Any, given_value: Any, expected: Any) -> None:
    result = rule(given_value)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(("rule", "bad"), [
    (values.to_bigint, "12.5"), (values.to_bigint, "1_000"), (values.to_bigint, " 12"), (values.to_bigint, ""),
    (values.to_bigint, "9223372036854775808"), (values.to_bigint, "1e999999999"), (values.to_bigint, True),
    (values.to_bigint, 1.5), (values.to_bigint, 1e19), (values.to_bigint, "nan"), (values.to_bigint, "0x10"),
    (values.to_double, "inf"), (values.to_double, "nan"), (values.to_double, math.nan), (values.to_double, math.inf),
    (values.to_double, 2**53 + 1), (values.to_double, 10**400), (values.to_double, "0.1000000000000000000001"),
    (values.to_double, True), (values.to_double, "1,5"),
    (values.to_boolean, "yes"), (values.to_boolean, 1), (values.to_boolean, "1"), (values.to_boolean, None),
    (values.to_id, True), (values.to_id, 1.0), (values.to_id, "1"), (values.to_id, 2**63),
    (values.to_text, "a\x00b"), (values.to_text, "lone \ud800"), (values.json_text, {"k\x00": 1}),
    (values.json_text, [math.nan]), (values.json_text, {"a": "\udfff"}),
    (values.link, {"type": "Shot", "id": True}), (values.link, {"type": 5, "id": 1}),
    (values.links, [{"type": "Shot", "id": 2**63}]), (values.links, [{"type": "Shot", "id": False}]),
    (values.links, [{"type": None, "id": 1}]), (values.links, [5]),
    (values.to_utc, "0001-01-01T00:00:00+01:00"), (values.to_date, "2024-13-01"),
])
def test_each_refusal(rule: Any, bad: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        rule(bad)


def test_a_literal_backslash_u0000_in_json_is_kept() -> None:
    # the text \u0000 (six characters) is not a NUL: only a real NUL is refused
    assert values.json_text(["\\u0000"]) == '["\\\\u0000"]'


_values = damaged_values()


@settings(max_examples=400, deadline=None)
@given(st.lists(_values, min_size=len(TYPES), max_size=len(TYPES)))
def test_the_fast_path_agrees_with_the_rules(damaged: list[Any]) -> None:
    raw = plan(_schema())["Thing"]
    conv = RowConverter(raw)
    record = {"type": "Thing", "id": 1, **{f"f_{t}": v for t, v in zip(TYPES, damaged, strict=True)}}
    now = dt.datetime.now(UTC)
    try:
        row = conv.row(record, False, now)
    except ValueFitError as exc:
        assert exc.record_id == 1 and exc.field.startswith("f_")
        assert conv.explain(record) is not None
        return
    # every field converted: the strict rules, field by field, give the same values
    assert conv.explain(record) is None
    expected: list[Any] = []
    links: list[Any] = []
    for name in conv.fields:
        v = record.get(name)
        rf = raw.fields[name]
        if rf.shape.value == "entity":
            links += [None, None] if v is None else values.link(v)
        elif rf.shape.value == "multi":
            links += [None, None] if v is None else values.links(v)
        elif v is None:
            expected.append(None)
        elif name == "id":
            expected.append(values.to_id(v))
        else:
            expected.append(STORAGE[rf.columns[0].logical].convert(v))
    assert list(row[:-2]) == [*expected, *links]
