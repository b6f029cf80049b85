"""The raw layout: which columns each SG field becomes, on the real schema and on edge cases."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sg2dbt.core.errors import NamingError
from sg2dbt.core.layout import LOADED_AT_COLUMN, RETIRED_COLUMN, RawLayout, Role, plan
from sg2dbt.core.model import Entity, Field, Schema
from sg2dbt.core.naming import shorten
from sg2dbt.core.typemap import Logical
from sg2dbt.schema import sources


def _schema(*fields: Field, entity: str = "Shot") -> Schema:
    return Schema.of([Entity.of(entity, entity, [Field(entity, "id", "number"), *fields])])


def _columns(layout: RawLayout, entity: str = "Shot") -> dict[str, Logical]:
    return {c.name: c.logical for c in layout[entity].columns}


@pytest.fixture(scope="module")
def real_layout(real_schema_path: Path) -> RawLayout:
    return plan(sources.from_path(real_schema_path))


def test_real_schema_every_field_has_its_columns(real_layout: RawLayout) -> None:
    assert len(real_layout.tables) == 77
    pivots = 0
    for table in real_layout:
        names = [c.name for c in table.columns]
        assert len(names) == len(set(names)), table.name
        assert names[-2:] == [RETIRED_COLUMN, LOADED_AT_COLUMN]
        assert set(table.fields) == set(table.entity.fields)   # no field dropped from the layout
        for name, f in table.entity.fields.items():
            expected = {
                "pivot_column": [],
                "entity": [f"{name}_id", f"{name}_type"],
                "multi_entity": [f"{name}_ids", f"{name}_type"],
            }.get(f.data_type, [name])
            got = [c.name for c in table.fields[name].columns]
            # the only allowed difference is the documented collision rule: a link column taken by
            # another field's own column becomes f__id / f__type
            for g, e in zip(got, expected, strict=True):
                assert g in (e, e.replace(f"{name}_", f"{name}__", 1)), (table.name, name, got)
                assert g == e or e in table.entity.fields, (table.name, name, got)
            assert all(c in names for c in got)
            pivots += f.data_type == "pivot_column"
        assert [f.name for f in table.omitted] == [n for n, f in table.entity.fields.items()
                                                    if f.data_type == "pivot_column"]
    assert pivots == 18


def test_real_schema_collisions_use_double_underscore(real_layout: RawLayout) -> None:
    """TaskDependency has fields ``task_id`` and ``task``: the link column yields, the field keeps it."""
    td = real_layout["TaskDependency"]
    assert "task_id" in td.entity.fields and td.entity.fields["task"].data_type == "entity"
    assert td.fields["task_id"].column(Role.VALUE).name == "task_id"
    assert td.fields["task"].column(Role.LINK_ID).name == "task__id"
    assert td.fields["task"].column(Role.LINK_TYPE).name == "task_type"


def test_real_schema_shot_columns(real_layout: RawLayout) -> None:
    shot = real_layout["Shot"]
    assert shot.name == "shot" and shot.class_name == "Shot"
    assert shot.columns[0].name == "id" and shot.columns[0].role is Role.ID
    cols = {c.name: c for c in shot.columns}
    assert cols["project_id"].logical is Logical.BIGINT and cols["project_id"].role is Role.LINK_ID
    assert cols["project_type"].logical is Logical.TEXT
    assert cols["assets_ids"].logical is Logical.TEXT and cols["assets_ids"].role is Role.LINK_IDS
    assert cols["assets_type"].role is Role.LINK_TYPE
    assert cols["created_at"].logical is Logical.TIMESTAMPTZ
    assert cols["sg_status_list"].logical is Logical.TEXT
    assert cols[RETIRED_COLUMN].logical is Logical.BOOLEAN
    assert cols[LOADED_AT_COLUMN].logical is Logical.TIMESTAMPTZ
    assert real_layout["HumanUser"].name == "human_user"


@pytest.mark.parametrize(
    ("data_type", "columns"),
    [
        ("text", {"f": Logical.TEXT}), ("list", {"f": Logical.TEXT}), ("status_list", {"f": Logical.TEXT}),
        ("entity_type", {"f": Logical.TEXT}), ("color", {"f": Logical.TEXT}),
        ("footage", {"f": Logical.TEXT}),
        ("uuid", {"f": Logical.TEXT}), ("image", {"f": Logical.TEXT}), ("password", {"f": Logical.TEXT}),
        ("number", {"f": Logical.BIGINT}), ("integer", {"f": Logical.BIGINT}),
        ("duration", {"f": Logical.BIGINT}), ("percent", {"f": Logical.BIGINT}),
        ("timecode", {"f": Logical.BIGINT}), ("float", {"f": Logical.DOUBLE}),
        ("currency", {"f": Logical.DOUBLE}), ("checkbox", {"f": Logical.BOOLEAN}),
        ("date", {"f": Logical.DATE}),
        ("date_time", {"f": Logical.TIMESTAMPTZ}), ("serializable", {"f": Logical.JSON}),
        ("url", {"f": Logical.JSON}), ("tag_list", {"f": Logical.JSON}),
        ("entity", {"f_id": Logical.BIGINT, "f_type": Logical.TEXT}),
        ("multi_entity", {"f_ids": Logical.TEXT, "f_type": Logical.TEXT}),
        ("addressing", {"f_ids": Logical.TEXT, "f_type": Logical.TEXT}),
        ("pivot_column", {}),
    ],
)
def test_every_data_type_has_its_columns(data_type: str, columns: dict[str, Logical]) -> None:
    layout = plan(_schema(Field("Shot", "f", data_type)))
    got = _columns(layout)
    assert got.pop("id") is Logical.BIGINT
    assert got.pop(RETIRED_COLUMN) is Logical.BOOLEAN
    assert got.pop(LOADED_AT_COLUMN) is Logical.TIMESTAMPTZ
    assert got == columns
    assert "f" in layout["Shot"].fields   # even a pivot column stays in the layout, with no column


@pytest.mark.parametrize(
    ("summary_default", "logical"),
    [("record_count", Logical.BIGINT), ("count", Logical.BIGINT), ("sum", Logical.DOUBLE),
     ("average", Logical.DOUBLE), ("maximum", Logical.DOUBLE), ("percentage", Logical.DOUBLE),
     ("checked", Logical.BOOLEAN), ("single_record", Logical.TEXT), (None, Logical.TEXT)],
)
def test_summary_fields_are_typed_from_their_default(summary_default: str | None, logical: Logical) -> None:
    layout = plan(_schema(Field("Shot", "f", "summary", summary_default=summary_default)))
    assert _columns(layout)["f"] is logical


def test_unknown_type_becomes_text_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sg2dbt.core.typemap"):
        layout = plan(_schema(Field("Shot", "sg_new", "hologram")))
    assert _columns(layout)["sg_new"] is Logical.TEXT
    assert "Shot.sg_new" in caplog.text and "hologram" in caplog.text


def test_id_is_bigint_whatever_the_dump_says() -> None:
    layout = plan(Schema.of([Entity.of("Shot", "Shot", [Field("Shot", "id", "text")])]))
    assert layout["Shot"].columns[0].logical is Logical.BIGINT


def test_link_column_yields_to_a_field_with_that_name() -> None:
    layout = plan(_schema(Field("Shot", "project", "entity", valid_types=("Project",)),
                          Field("Shot", "project_id", "number"),
                          Field("Shot", "assets", "multi_entity"), Field("Shot", "assets_type", "text")))
    shot = layout["Shot"]
    assert shot.fields["project_id"].column(Role.VALUE).name == "project_id"
    assert shot.fields["project"].column(Role.LINK_ID).name == "project__id"
    assert shot.fields["project"].column(Role.LINK_TYPE).name == "project_type"
    assert shot.fields["assets"].column(Role.LINK_IDS).name == "assets_ids"
    assert shot.fields["assets"].column(Role.LINK_TYPE).name == "assets__type"
    assert shot.fields["assets_type"].column(Role.VALUE).name == "assets_type"


def test_long_link_column_yields_by_the_same_rule_as_short_ones() -> None:
    # 70 characters: the link's id column is cut to 63 with a hash; a field already holding that name wins,
    # and the link column takes the doubled underscore before the hash, still within 63 characters.
    link = "a" * 70
    wanted = shorten(f"{link}_id")
    shot = plan(_schema(Field("Shot", link, "entity", valid_types=("Project",)),
                        Field("Shot", wanted, "number")))["Shot"]
    moved = shot.fields[link].column(Role.LINK_ID).name
    assert shot.fields[wanted].column(Role.VALUE).name == wanted
    assert moved == shorten(f"{wanted.rpartition('_')[0]}__{wanted.rpartition('_')[2]}")
    assert moved != wanted and len(moved) <= 63


def test_metadata_field_keeps_its_column_and_gets_attribute_metadata_() -> None:
    col = plan(_schema(Field("Shot", "metadata", "text"))).__getitem__("Shot").fields["metadata"].columns[0]
    assert (col.name, col.attr) == ("metadata", "metadata_")


def test_long_names_are_shortened_and_stay_distinct() -> None:
    a, b = "sg_" + "x" * 77, "sg_" + "x" * 76 + "y"
    layout = plan(_schema(Field("Shot", a, "entity"), Field("Shot", b, "multi_entity")))
    names = [c.name for c in layout["Shot"].columns]
    assert all(len(n) <= 63 for n in names)
    assert len(names) == len(set(names)) == 7


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("Foo", "foo"), "'Foo' and 'foo' both map to column 'foo'"),
        (("a-b", "a_b"), "both map to column 'a_b'"),
        (("_sg_retired",), "bookkeeping"),
    ],
    ids=["case", "punctuation", "bookkeeping"],
)
def test_unresolvable_collisions_are_refused_naming_both_fields(fields: tuple[str, ...],
                                                                message: str) -> None:
    with pytest.raises(NamingError, match=message) as info:
        plan(_schema(*(Field("Shot", f, "text") for f in fields)))
    assert "'Shot'" in str(info.value)


def test_entities_colliding_after_mangling_are_refused() -> None:
    schema = Schema.of([Entity.of(n, n, [Field(n, "id", "number")]) for n in ("HumanUser", "Human_User")])
    with pytest.raises(NamingError, match="'HumanUser' and 'Human_User' both map to 'human_user'"):
        plan(schema)


_PLAN = """
import json, sys
from sg2dbt.schema import sources
from sg2dbt.core.layout import plan
print(json.dumps([[t.name, [c.name for c in t.columns]] for t in plan(sources.from_path(sys.argv[1]))]))
"""


def test_layout_is_deterministic(real_layout: RawLayout, real_schema_path: Path) -> None:
    """Planned again by another interpreter with another string-hash seed: set order leaking into names or
    column order would differ there (a second plan in this process could not show it)."""
    other = subprocess.run([sys.executable, "-c", _PLAN, str(real_schema_path)], capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"}, timeout=120, check=True).stdout
    assert [[t.name, [c.name for c in t.columns]] for t in real_layout] == json.loads(other)
