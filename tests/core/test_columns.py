"""The column-wise page converter (:mod:`sg2dbt.core.columns`, ``RowConverter.rows``) gives exactly the rows
and the refusals of the record-by-record converter, and takes the column path on clean pages."""

from __future__ import annotations

import datetime as dt
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sg2dbt.core import columns
from sg2dbt.core.convert import RowConverter
from sg2dbt.core.errors import ValueFitError
from sg2dbt.core.layout import plan
from sg2dbt.core.model import Entity, Field, Schema
from sg2dbt.schema import sources
from tests.support.damaged import damaged_values
from tests.support.sgsite import record

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 1, 2, tzinfo=UTC)
TYPES = ["text", "number", "float", "currency", "percent", "duration", "timecode", "checkbox", "date",
         "date_time", "url", "serializable", "tag_list", "entity", "multi_entity"]
THING = plan(Schema.of([Entity.of("Thing", "Thing", [Field("Thing", "id", "number"), *(
    Field("Thing", f"f_{t}", t, valid_types=("Thing",) if "entity" in t else ()) for t in TYPES)])]))["Thing"]


def _by_record(conv: RowConverter, page: list[Any]) -> list[Any] | str:
    try:
        return [conv.row(r, False, NOW) for r in page]
    except ValueFitError as exc:
        return str(exc)


def _by_page(conv: RowConverter, page: list[Any]) -> list[Any] | str:
    try:
        return conv.rows(page, False, NOW)
    except ValueFitError as exc:
        return str(exc)


@pytest.mark.parametrize("json_as_text", [True, False])
def test_a_real_schema_page_takes_the_column_path_with_the_same_rows(real_schema_path: Path,
                                                                     json_as_text: bool) -> None:
    schema = sources.from_path(real_schema_path)
    for name in ("Shot", "Asset", "Version", "HumanUser", "Task"):
        conv = RowConverter(plan(schema.filtered(only=[name]))[name], json_as_text=json_as_text)
        page = [record(schema[name], i, schema) for i in range(1, 120)]
        assert columns.convert_page(conv._values, page, conv._steps, (False, NOW)) is not None, name
        assert conv.rows(page, False, NOW) == _by_record(conv, page), name


_values = damaged_values(
    st.datetimes(timezones=st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=2))])), st.datetimes(),
    text=("", "A,B"))
_records = st.lists(_values, min_size=len(TYPES), max_size=len(TYPES)).map(
    lambda vs: {"type": "Thing", "id": 1, **{f"f_{t}": v for t, v in zip(TYPES, vs, strict=True)}})
_CLEAN = {"f_url": None, "f_serializable": None, "f_currency": 1.5, "f_percent": 3, "f_duration": 4,
          "f_timecode": None, "f_checkbox": True, "f_date": "2024-05-01", "f_tag_list": ["a"],
          "f_date_time": dt.datetime(2024, 5, 1, tzinfo=UTC)}
_clean = st.builds(lambda i: {"type": "Thing", "id": i, **_CLEAN, "f_text": f"t{i}", "f_number": i, "f_float": i / 4,
                              "f_entity": {"type": "Thing", "id": i},
                              "f_multi_entity": [{"type": "Thing", "id": i}, {"type": "Other", "id": 2}]},
                   st.integers(min_value=1, max_value=10**6))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_clean, _records, _clean), min_size=1, max_size=5), st.booleans())
def test_pages_convert_as_record_by_record(page: list[Any], json_as_text: bool) -> None:
    conv = RowConverter(THING, json_as_text=json_as_text)
    assert _by_page(conv, page) == _by_record(conv, page)


@pytest.mark.parametrize("bad", [0, "", {}, 1.5, True, "x", [{"type": "Thing", "id": True}],
                                 [{"type": "A,B", "id": 1}], [{"type": "Thing"}], [None],
                                 [{"type": "Th\x00", "id": 1}]])
def test_a_misfit_multi_entity_value_is_refused_as_record_by_record(bad: Any) -> None:
    conv = RowConverter(THING)
    page = [{"type": "Thing", "id": i, **{f"f_{t}": None for t in TYPES}, "f_multi_entity": []} for i in (1, 2)]
    page[1]["f_multi_entity"] = bad
    result = _by_page(conv, page)
    assert isinstance(result, str) and "id 2, field 'f_multi_entity'" in result
    assert result == _by_record(conv, page)


@pytest.mark.parametrize("value", [
    {"type": None, "id": 1}, {"type": "Thing", "id": None}, {"type": "Thing", "id": True}, {"type": "Th\x00", "id": 1},
    {"type": "Th\ud800", "id": 1}, {"id": 1}, {"type": "Thing"}, {"type": "Thing", "id": 2**63}, {"type": 5, "id": 1},
    {"type": "Thing", "id": 1.0}, [], "x", 5, {"type": "A,B", "id": 1}, {"type": "Thé", "id": -(2**63)},
    types.MappingProxyType({"type": "Thing", "id": 3})])
def test_an_entity_link_converts_as_record_by_record(value: Any) -> None:
    # links are checked for the whole column at once: each misfit is refused (or stored) as record by record
    conv = RowConverter(THING)
    page = [{"type": "Thing", "id": i, **{f"f_{t}": None for t in TYPES}, "f_multi_entity": [],
             "f_entity": {"type": "Thing", "id": i}} for i in (1, 2, 3)]
    page[1]["f_entity"] = value
    assert _by_page(conv, page) == _by_record(conv, page)


@pytest.mark.parametrize("value", [
    [chr(c) for c in range(1, 128)], ["été", "\u2028", "\U0001f600", "\ufeff", '"quoted" \\ back'],
    {"url": "https://x/\u00e9?a=1&b=\"2\"", "name": "\t\n", "n": 2**63, "m": -(2**63), "ok": True, "none": None},
    {chr(c): chr(c) for c in range(1, 128, 3)}, [], {}])
def test_flat_json_takes_the_column_path_with_the_rule_s_text(value: Any) -> None:
    # the column path encodes lists of strings and dicts of scalars with orjson: the very text of the rule
    conv = RowConverter(THING)
    page = [{"type": "Thing", "id": i, **{f"f_{t}": None for t in TYPES}, "f_multi_entity": [], "f_url": value,
             "f_tag_list": value if isinstance(value, list) else None} for i in (1, 2)]
    assert columns.convert_page(conv._values, page, conv._steps, (False, NOW)) is not None
    assert _by_page(conv, page) == _by_record(conv, page)


@pytest.mark.parametrize("value", [["x\x00"], ["\ud800"], {"k": "\udc00"}, {"k": 2**64}, {"k": "a\x00"},
                                   {"k": 1.5}, [1, "a"], {1: "a"}])
def test_flat_json_a_value_orjson_does_not_write_as_the_rule_converts_as_record_by_record(value: Any) -> None:
    conv = RowConverter(THING)
    page = [{"type": "Thing", "id": i, **{f"f_{t}": None for t in TYPES}, "f_multi_entity": [],
             "f_url": {"url": "u"}, "f_tag_list": ["a"]} for i in (1, 2, 3)]
    page[1]["f_url"] = page[1]["f_tag_list"] = value
    assert _by_page(conv, page) == _by_record(conv, page)


MISFITS: list[Any] = [
    "12", "12.0", "1e3", "12.5", "", "true", "FALSE", 12.0, 1.5, -0.0, 0, 7, 2**53, 2**53 + 1, 2**63 - 1, 2**63,
    -(2**63), -(2**63) - 1, 10**30, float("nan"), float("inf"), True, False, "x\x00y", "lone \ud800", "é€😀",
    "2024-05-01", "2024-02-30", dt.date(2024, 5, 1), "2024-05-01T10:00:00Z", "2024-05-01 10:00:00+02:00",
    dt.datetime(2024, 5, 1), dt.datetime(2024, 5, 1, tzinfo=UTC), dt.datetime(2024, 5, 1, tzinfo=dt.timezone.max),
    dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))), {"type": "Thing", "id": 1},
    {"type": 5, "id": 1}, {"type": "Thing", "id": "1"}, {"type": "Thing"}, {}, [], [{"type": "Thing", "id": 1}],
    [{"type": "A,B", "id": 1}], [{"type": "Thing", "id": 2**63}], [5], [None], ["hero"], {"a": [1, 2.5]},
    {"k\x00": 1}, [float("nan")],
]


@pytest.mark.parametrize("field_type", TYPES)
def test_each_misfit_value_in_a_clean_page_converts_as_record_by_record(field_type: str) -> None:
    conv = RowConverter(THING)
    clean = [{"type": "Thing", "id": i, **{f"f_{t}": None for t in TYPES}, "f_text": f"t{i}", "f_number": i,
              "f_multi_entity": []} for i in (1, 2, 3)]
    assert columns.convert_page(conv._values, clean, conv._steps, (False, NOW)) is not None
    for value in MISFITS:
        page = [clean[0], {**clean[1], f"f_{field_type}": value}, clean[2]]
        assert _by_page(conv, page) == _by_record(conv, page), f"{field_type} {value!r}"
