"""SGORM: the spec's Python API verbatim, the real schema on PostgreSQL, DuckDB and SQLite, filters."""

from __future__ import annotations

import datetime
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from sg2dbt import SGORM, SchemaType
from sg2dbt.core.errors import SchemaError


@pytest.fixture(scope="module")
def real_orm(real_schema_path: Path) -> SGORM:
    return SGORM(sg_schema_type=SchemaType.JSON_FILE, sg_schema_source=str(real_schema_path))


def test_spec_snippet_verbatim(real_schema_path: Path, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(real_schema_path, tmp_path / "schema.json")
    monkeypatch.chdir(tmp_path)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'snippet.db'}")
    # --- the snippet from SPEC.md, unchanged ---
    from sg2dbt import SGORM, SchemaType
    sg_orm = SGORM(sg_schema_type=SchemaType.JSON_FILE, sg_schema_source="schema.json",
                   echo=False, ignored_tables=["AppWelcome"], ignored_fields=["image_source_entity"])
    Shot = sg_orm["Shot"]; Shot = sg_orm.classes["Shot"]  # noqa: E702
    sg_orm.Base.metadata.create_all(engine)
    sg_orm.create_script("sgmodel.py")   # standalone module: Base, one class per entity, CLASSES dict
    # --- what it must have done ---
    assert Shot.__tablename__ == "shot"
    assert "shot" in sa.inspect(engine).get_table_names()
    assert (tmp_path / "sgmodel.py").is_file()
    assert "image_source_entity_id" not in {c["name"] for c in sa.inspect(engine).get_columns("shot")}


def test_real_schema_has_77_classes_named_after_the_api(real_orm: SGORM) -> None:
    assert len(real_orm.classes) == 77
    assert real_orm["HumanUser"].__name__ == "HumanUser"
    assert real_orm["HumanUser"].__tablename__ == "human_user"
    assert real_orm["CustomEntity01"].__tablename__ == "custom_entity01"
    assert "Shot" in real_orm and "Nope" not in real_orm
    assert real_orm.get("Nope") is None


def test_unknown_entity_raises_key_error_with_close_match(real_orm: SGORM) -> None:
    with pytest.raises(KeyError, match="did you mean Shot"):
        real_orm["Shoot"]
    with pytest.raises(KeyError, match="no entity 'Zzzzzz'") as info:
        real_orm["Zzzzzz"]
    assert "did you mean" not in str(info.value)


def test_no_foreign_keys_and_ids_are_never_autoincrement(real_orm: SGORM) -> None:
    for tbl in real_orm.Base.metadata.tables.values():
        assert not tbl.foreign_keys, tbl.name
        pk = list(tbl.primary_key.columns)
        assert [c.name for c in pk] == ["id"]
        assert pk[0].autoincrement is False
        assert isinstance(pk[0].type, sa.BigInteger)
        assert tbl.autoincrement_column is None


def test_ignored_tables_and_fields(real_schema_path: Path) -> None:
    orm = SGORM(sg_schema_type=SchemaType.JSON_FILE, sg_schema_source=real_schema_path,
                ignored_tables=["AppWelcome", "Booking", "Note"],
                ignored_fields=["sg_status_list", "Shot.code"])
    assert len(orm.classes) == 75
    assert "Booking" not in orm and "Note" not in orm   # AppWelcome is not in the schema: no error
    shot_cols = set(orm.tables["Shot"].columns.keys())
    assert "sg_status_list" not in shot_cols and "code" not in shot_cols
    assert "sg_status_list" not in orm.tables["Asset"].columns
    assert "code" in orm.tables["Asset"].columns            # Entity.field drops only there
    assert "id" in shot_cols                                 # id is never dropped


def test_json_text_and_schema_in_memory(real_schema_path: Path) -> None:
    text = real_schema_path.read_text(encoding="utf-8")
    orm = SGORM(sg_schema_type=SchemaType.JSON_TEXT, sg_schema_source=text)
    assert len(orm.classes) == 77
    again = SGORM(sg_schema_type=SchemaType.SCHEMA, sg_schema_source=orm.schema)
    assert sorted(again.classes) == sorted(orm.classes)


def test_mockgun_pickle_source(real_schema_pickles: tuple[Path, Path]) -> None:
    orm = SGORM(sg_schema_type=SchemaType.MOCKGUN_PICKLE, sg_schema_source=real_schema_pickles)
    assert len(orm.classes) == 77


def test_json_file_needs_a_path() -> None:
    with pytest.raises(SchemaError, match="JSON_FILE needs a path"):
        SGORM(sg_schema_type=SchemaType.JSON_FILE, sg_schema_source={"Shot": {}})


# --- create_all and a round trip on every database -----------------------------------------------------

SHOT_VALUES: dict[str, Any] = {
    "id": 1234,
    "code": "sh010",
    "project_id": 70, "project_type": "Project",
    "assets_ids": "3,1,2", "assets_type": "Asset,Asset,Asset",
    "sg_sequence_id": 5, "sg_sequence_type": "Sequence",
    "sg_cut_in": 1001,
    "tag_list": ["hero", "fx"],
    "created_at": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc),
    "_sg_retired": False,
}


def _round_trip(orm: SGORM, engine: sa.Engine) -> None:
    Shot = orm["Shot"]
    orm.Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Shot(**SHOT_VALUES))
        session.commit()
    with Session(engine) as session:
        shot = session.get(Shot, 1234)
        assert shot is not None
        for key, value in SHOT_VALUES.items():
            got = getattr(shot, key)
            if key == "created_at" and got.tzinfo is None:   # SQLite keeps no offset: stored as UTC
                got = got.replace(tzinfo=datetime.timezone.utc)
            if key == "tag_list" and isinstance(got, str):
                got = json.loads(got)
            assert got == value, key
    tables = set(sa.inspect(engine).get_table_names(schema=orm.tables["Shot"].schema))
    assert {t.name for t in orm.tables.values()} <= tables
    assert len(tables) >= 77


def test_create_all_and_round_trip_sqlite(real_orm: SGORM, tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'raw.db'}")
    _round_trip(real_orm, engine)
    engine.dispose()


def test_create_all_and_round_trip_duckdb(real_orm: SGORM, duckdb_path: Path) -> None:
    engine = sa.create_engine(f"duckdb:///{duckdb_path}")
    _round_trip(real_orm, engine)
    with engine.connect() as conn:
        seqs = conn.exec_driver_sql("select count(*) from duckdb_sequences()").scalar()
    assert seqs == 0
    engine.dispose()


@pytest.fixture
def pg_orm(real_schema_path: Path, pg_schema: str) -> Iterator[SGORM]:
    yield SGORM(sg_schema_type=SchemaType.JSON_FILE, sg_schema_source=real_schema_path, schema=pg_schema)


@pytest.mark.postgres
def test_create_all_and_round_trip_postgres(pg_orm: SGORM, pg_engine: sa.Engine, pg_schema: str) -> None:
    _round_trip(pg_orm, pg_engine)
    with pg_engine.connect() as conn:
        row = conn.execute(sa.text(f'select pg_typeof(tag_list)::text, project_id from "{pg_schema}".shot')
                           ).one()
        assert tuple(row) == ("jsonb", 70)
        # no sequence, identity, serial default or foreign key anywhere in the schema
        assert conn.execute(sa.text("select count(*) from information_schema.sequences "
                                    "where sequence_schema = :s"), {"s": pg_schema}).scalar() == 0
        assert conn.execute(sa.text("select count(*) from information_schema.columns where table_schema = :s "
                                    "and (is_identity = 'YES' or column_default is not null)"),
                            {"s": pg_schema}).scalar() == 0
        assert conn.execute(sa.text("select count(*) from pg_constraint c join pg_namespace n "
                                    "on n.oid = c.connamespace where n.nspname = :s and c.contype = 'f'"),
                            {"s": pg_schema}).scalar() == 0
        id_type = conn.execute(sa.text("select data_type from information_schema.columns where "
                                       "table_schema = :s and table_name = 'shot' and column_name = 'id'"),
                               {"s": pg_schema}).scalar()
        assert id_type == "bigint"
