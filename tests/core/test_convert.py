"""The row converter (core/convert.py): column order, missing fields, JSON modes and the refusal it names."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from sg2dbt.core.convert import RowConverter
from sg2dbt.core.errors import ValueFitError
from sg2dbt.core.layout import Role, plan
from sg2dbt.schema import sources
from tests.conftest import REPO
from tests.support.sgsite import record

SCHEMA = sources.from_path(REPO / "examples" / "studio" / "schema.json")
LAYOUT = plan(SCHEMA)
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def test_columns_are_id_then_values_then_links_then_bookkeeping() -> None:
    conv = RowConverter(LAYOUT["Shot"])
    roles = [c.role for c in conv.columns]
    assert roles[0] is Role.ID
    assert roles[-2:] == [Role.RETIRED, Role.LOADED_AT]
    first_link = next(i for i, r in enumerate(roles) if r in (Role.LINK_ID, Role.LINK_IDS))
    assert all(r is Role.VALUE for r in roles[1:first_link])
    assert all(r in (Role.LINK_ID, Role.LINK_IDS, Role.LINK_TYPE) for r in roles[first_link:-2])
    assert set(conv.columns) == set(LAYOUT["Shot"].columns)


def test_a_full_record_converts_link_by_link() -> None:
    conv = RowConverter(LAYOUT["Note"])
    rec = record(SCHEMA["Note"], 7, SCHEMA)
    row = dict(zip((c.name for c in conv.columns), conv.row(rec, False, NOW), strict=True))
    assert row["id"] == 7 and row["_sg_retired"] is False and row["_sg_loaded_at"] == NOW
    links = rec["note_links"]
    assert row["note_links_ids"] == (",".join(str(link["id"]) for link in links) if links else None)
    assert row["note_links_type"] == (",".join(link["type"] for link in links) if links else None)


def test_a_record_missing_fields_reads_them_as_null() -> None:
    """A dump may omit fields SG would have returned: those columns are null, the rest converts."""
    conv = RowConverter(LAYOUT["Shot"])
    row = dict(zip((c.name for c in conv.columns), conv.row({"id": 3, "code": "sh010"}, True, NOW), strict=True))
    assert row["id"] == 3 and row["code"] == "sh010" and row["_sg_retired"] is True
    assert all(v is None for k, v in row.items() if k not in ("id", "code", "_sg_retired", "_sg_loaded_at"))


def test_json_is_text_for_the_loader_and_a_value_for_sgorm() -> None:
    table = LAYOUT["Shot"]
    json_cols = [c for c in RowConverter(table).columns if c.logical.value == "json"]
    assert json_cols, "the demo's Shot has a url or tag field"
    rec = record(SCHEMA["Shot"], 1, SCHEMA)
    name = json_cols[0].name
    as_text = dict(zip((c.name for c in RowConverter(table).columns), RowConverter(table).row(rec, False, NOW),
                       strict=True))[name]
    conv = RowConverter(table, json_as_text=False)
    as_value = dict(zip((c.name for c in conv.columns), conv.row(rec, False, NOW), strict=True))[name]
    assert as_text is None or json.loads(as_text) == as_value


@pytest.mark.parametrize(("field", "value"), [("id", True), ("code", "nul\x00inside"), ("sg_cut_in", "12.5"),
                                              ("sg_sequence", {"type": "Sequence", "id": 2**63}),
                                              ("assets", [{"type": "Asset", "id": "1"}])])
def test_a_value_that_does_not_fit_is_refused_naming_entity_id_and_field(field: str, value: object) -> None:
    conv = RowConverter(LAYOUT["Shot"])
    rec = {**record(SCHEMA["Shot"], 5, SCHEMA), field: value}
    with pytest.raises(ValueFitError) as info:
        conv.row(rec, False, NOW)
    assert (info.value.entity, info.value.record_id, info.value.field) == ("Shot", rec["id"], field)


def test_text_keeps_what_sg_hands_over_losslessly() -> None:
    """TEXT takes strings as they are and anything else (a summary returning a dict) as its JSON text."""
    conv = RowConverter(LAYOUT["Shot"])
    names = [c.name for c in conv.columns]
    row = conv.row({"id": 1, "code": {"a": 1}}, False, NOW)
    assert json.loads(row[names.index("code")]) == {"a": 1}
