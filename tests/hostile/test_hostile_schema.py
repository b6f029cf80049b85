"""Hostile schemas: every case either gives valid, importable output or fails with one error naming the offender.

Each case states its expected outcome. "valid" means: SGORM builds and a row with hostile text round-trips
through its attributes; the standalone module imports in a fresh interpreter, keeps every name and description
as data (byte for byte), and creates its tables on SQLite and DuckDB; the DDL runs on SQLite, DuckDB and
PostgreSQL and compiles for MySQL. "refused" means one :class:`Sg2dbtError` whose message names the offender.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from sg2dbt import SGORM, SchemaType
from sg2dbt.core.errors import Sg2dbtError
from sg2dbt.core.layout import Role
from sg2dbt.emit.ddl import create_statements
from sg2dbt.emit.metadata import build_metadata
from tests.support.modcheck import probe

# Text that would become code if any emitter pasted it instead of quoting it.
PWN = "PWNED"
INJECT_PY = f'"""\nopen({PWN!r}, "w").close()\n"""' + "'''\nopen('PWNED', 'w').close()\n'''"
INJECT_JINJA = "{{ cycler.__init__.__globals__.os.system('touch PWNED') }} {% for x in range(3) %}{{x}}{% endfor %}"
HOSTILE_TEXT = "it's \"quoted\" \\ back\\slash \\n\nnew line\r\n\t" + INJECT_PY + INJECT_JINJA + " {# c #} \\"


@dataclass(frozen=True)
class F:
    data_type: str = "text"
    description: str = ""
    display: str = ""
    valid_types: tuple[str, ...] = ()


def seed(entities: dict[str, dict[str, F]], displays: dict[str, str] | None = None) -> str:
    """The schema as seed-shape JSON text; every entity gets an ``id`` unless the case gives one."""
    doc: dict[str, Any] = {}
    for entity, fields in entities.items():
        specs = {"id": F("number", display="Id"), **fields}
        doc[entity] = {
            "name": {"value": (displays or {}).get(entity, entity)},
            "fields": {
                name: {
                    "data_type": {"value": f.data_type},
                    "name": {"value": f.display or name},
                    "description": {"value": f.description},
                    "properties": {"valid_types": {"value": list(f.valid_types)}},
                }
                for name, f in specs.items()
            },
        }
    return json.dumps(doc)


def shot(**fields: F) -> dict[str, dict[str, F]]:
    return {"Shot": {"code": F(), **fields}}


LONG_A = "sg_" + "very_long_field_name_" * 3 + "a" * 17          # 80 characters
LONG_B = LONG_A[:-1] + "b"                                        # same first 79
LONG_ENTITY = "CustomEntity" + "X" * 68                           # 80 characters

# id -> (schema JSON text, None for valid output or a regex the single error must match)
CASES: dict[str, tuple[str, str | None]] = {
    "quotes-in-descriptions": (seed(shot(code=F(description="He said \"hi\" and 'bye'"))), None),
    "triple-quotes-in-descriptions": (seed(shot(code=F(description=INJECT_PY, display='"""'))), None),
    "backslashes-in-descriptions": (seed(shot(code=F(description="C:\\new\\table\\", display="a\\"))), None),
    "newlines-in-descriptions": (seed(shot(code=F(description="one\ntwo\r\n\"\"\"\nimport os\n"))), None),
    "jinja-in-descriptions": (seed(shot(code=F(description=INJECT_JINJA, display="{{ 7*7 }}"))), None),
    "everything-in-descriptions": (seed(shot(code=F(description=HOSTILE_TEXT, display=HOSTILE_TEXT)),
                                        {"Shot": HOSTILE_TEXT}), None),
    "quotes-in-entity-and-field-names": (seed({"Sh'o\"t": {"co'de": F(), 'na"me': F()}}), None),
    "triple-quotes-in-names": (seed({'Sh"""ot': {"a'''b": F(), 'c"""d': F("entity")}}), None),
    "backslashes-in-names": (seed({"Sh\\ot": {"a\\b": F(), "c\\": F("multi_entity")}}), None),
    "newlines-in-names": (seed({"Sh\not": {"a\nb": F(), "c\r\nd": F()}}), None),
    "jinja-braces-in-names": (seed({"{{Shot}}": {"{{ code }}": F(), "{% if x %}": F(), "{#c#}": F("entity")}}),
                              None),
    "sql-keywords-as-field-names": (seed(shot(user=F("entity", valid_types=("HumanUser",)), order=F("number"),
                                              group=F(), select=F("multi_entity"), table=F("date"))), None),
    "sql-keywords-as-entity-names": (seed({"Group": {"code": F()}, "Order": {"user": F("entity")},
                                           "User": {"group": F()}, "Select": {}}), None),
    "python-keywords-as-field-names": (seed(shot(**{"class": F(), "from": F("entity"), "import": F("number"),
                                                    "def": F("multi_entity"), "match": F(), "none": F(),
                                                    "lambda": F()})), None),
    "python-keywords-as-entity-names": (seed({"class": {"from": F()}, "None": {}, "lambda": {}}), None),
    "80-character-entity-name": (seed({LONG_ENTITY: {"code": F(), "project": F("entity")}}), None),
    "80-character-field-names": (seed(shot(**{LONG_A: F(), LONG_B: F(),
                                              LONG_A + "_link": F("entity"), LONG_B + "_link": F("multi_entity")})),
                                 None),
    "fields-colliding-by-case": (seed(shot(Foo=F(), foo=F())), r"fields 'Foo' and 'foo' both map to column 'foo'"),
    "fields-colliding-by-punctuation": (seed(shot(**{"a-b": F(), "a_b": F()})),
                                        r"fields 'a-b' and 'a_b' both map to column 'a_b'"),
    "entities-colliding-after-snake-case": (seed({"HumanUser": {}, "Human_User": {}}),
                                            r"entities 'HumanUser' and 'Human_User' both map to 'human_user'"),
    "entities-colliding-by-class-name": (seed({"Sh-ot": {}, "Sh ot": {}}),
                                         r"entities 'Sh ot' and 'Sh-ot' both map to 'sh_ot'"),
    "project_id-beside-entity-project": (seed(shot(project=F("entity", valid_types=("Project",)),
                                                   project_id=F("number"))), None),
    "ids-and-type-beside-multi-entity": (seed(shot(assets=F("multi_entity"), assets_ids=F(),
                                                   assets_type=F())), None),
    "link-pair-colliding-twice": (seed(shot(a=F("entity"), a_id=F(), a__id=F())),
                                  r"entity 'Shot': fields 'a' and 'a__id' both map to column 'a__id'"),
    "metadata-field": (seed(shot(metadata=F(), registry=F())), None),
    "metadata-beside-metadata_": (seed(shot(metadata=F(), metadata_=F())),
                                  r"columns 'metadata' and 'metadata_' both map to attribute 'metadata_'"),
    "entities-named-Base-and-CLASSES": (seed({"Base": {"code": F()}, "CLASSES": {"code": F()},
                                              "Shot": {"base": F("entity", valid_types=("Base",))}}), None),
    "entities-named-like-module-names": (seed({"sa": {}, "Mapped": {}, "Optional": {}, "datetime": {},
                                               "DeclarativeBase": {}, "str": {}, "int": {}, "float": {},
                                               "bool": {}, "Any": {}, "JSONB": {}}), None),
    "fields-named-like-module-names": (seed(shot(sa=F(), mapped_column=F(), datetime=F("date_time"),
                                                 str=F(), int=F("number"), bool=F("checkbox"),
                                                 zz_after=F("date_time"))), None),
    "fields-with-leading-underscores": (seed(shot(__doc__=F(), __foo=F(), _sa_x=F(), _private=F())), None),
    "field-named-like-bookkeeping": (seed(shot(_sg_retired=F("checkbox"))),
                                     r"field '_sg_retired' maps to column '_sg_retired'"),
    "unicode-names": (seed({"Caf\u00e9": {"na\u00efve": F(), "\u65e5\u672c": F()}}), None),
    "digits-first": (seed({"1stEntity": {"2nd": F()}}), None),
    "empty-field-name": (seed(shot(**{"": F()})), r"field names must be non-empty"),
    "nul-and-lone-surrogate-in-text": (seed(shot(code=F(description="a\x00b \ud800 \u2028 \x1b[31m",
                                                        display="\udfff")), {"Shot": "\x00"}), None),
    "entity-Base-beside-Base_": (seed({"Base": {}, "Base_": {}}), r"entities 'Base' and 'Base_' both map to 'Base_'"),
}
VALID = sorted(k for k, (_, err) in CASES.items() if err is None)
REFUSED = sorted(k for k, (_, err) in CASES.items() if err is not None)


def _orm(case: str) -> SGORM:
    return SGORM(sg_schema_type=SchemaType.JSON_TEXT, sg_schema_source=CASES[case][0])


@pytest.mark.parametrize("case", REFUSED)
def test_refused_with_one_error_naming_the_offender(case: str) -> None:
    with pytest.raises(Sg2dbtError, match=CASES[case][1]):
        _orm(case)


@pytest.mark.parametrize("case", VALID)
def test_valid_orm_round_trips_hostile_text(case: str, tmp_path: Path) -> None:
    orm = _orm(case)
    schema = json.loads(CASES[case][0])
    assert sorted(orm.classes) == sorted(schema)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'orm.db'}")
    orm.Base.metadata.create_all(engine)
    expected: dict[str, dict[str, Any]] = {}
    with Session(engine) as session:
        for entity, cls in orm.classes.items():
            table = orm.layout[entity]
            # every field but pivot columns has its column(s), reachable through the class attributes
            for name in schema[entity]["fields"]:
                assert table.fields[name].columns, (entity, name)
            values = {c.attr: (HOSTILE_TEXT if c.logical.value == "text" else None)
                      for c in table.columns if c.role is not Role.ID}
            values = {k: v for k, v in values.items() if v is not None}
            expected[entity] = values
            session.add(cls(id=1, **values))
        session.commit()
    with Session(engine) as session:
        for entity, cls in orm.classes.items():
            row = session.get(cls, 1)
            assert {k: getattr(row, k) for k in expected[entity]} == expected[entity], entity
    engine.dispose()


@pytest.mark.parametrize("case", VALID)
def test_valid_module_imports_fresh_and_keeps_text_as_data(case: str, tmp_path: Path) -> None:
    orm = _orm(case)
    orm.create_script(tmp_path / "sgmodel.py")
    report = probe(tmp_path)
    assert not list(tmp_path.glob(f"*{PWN}*")) and not Path(PWN).exists()
    assert sorted(report["classes"]) == sorted(orm.classes)          # CLASSES: the entities, nothing else
    assert all(c["is_entity_class"] for c in report["classes"].values())
    for entity, cls in orm.classes.items():
        generated, layout = report["classes"][entity], orm.layout[entity]
        assert generated["table"] == layout.name
        assert generated["doc"] == layout.entity.display_name
        assert generated["autoincrement"] == [False, False]
        assert {n: c["attr"] for n, c in generated["columns"].items()} == \
            {c.name: attr for attr, c in cls.__mapper__.columns.items()}
        for c in layout.columns:
            want = (c.field.description or c.field.display_name) if c.field is not None else None
            assert generated["columns"][c.name]["doc"] == (want or None), (entity, c.name)
    for db in ("sqlite", "duckdb"):
        assert report["databases"][db]["tables"] == sorted(t.name for t in orm.layout), db


@pytest.mark.parametrize("case", VALID)
def test_valid_ddl_runs_on_sqlite_and_duckdb_and_compiles_for_mysql(case: str, tmp_path: Path) -> None:
    orm = _orm(case)
    con = sqlite3.connect(tmp_path / "ddl.db")
    con.executescript(create_statements(build_metadata(orm.layout), "sqlite"))
    assert len(con.execute("select name from sqlite_master where type = 'table'").fetchall()) == len(orm.classes)
    con.close()
    duck = duckdb.connect(str(tmp_path / "ddl.duckdb"))
    duck.execute(create_statements(build_metadata(orm.layout), "duckdb"))
    assert duck.execute("select count(*) from duckdb_tables()").fetchone() == (len(orm.classes),)
    duck.close()
    assert create_statements(build_metadata(orm.layout), "mysql").count("CREATE TABLE") == len(orm.classes)


@pytest.mark.postgres
def test_valid_ddl_runs_on_postgres(pg_engine: sa.Engine, pg_schema: str) -> None:
    """All valid cases in one PostgreSQL schema each, one connection: quoting of reserved words, 63-char limit."""
    for case in VALID:
        orm = _orm(case)
        with pg_engine.begin() as conn:
            conn.exec_driver_sql(f'create schema "{pg_schema}_x"')
            conn.exec_driver_sql(create_statements(build_metadata(orm.layout, f"{pg_schema}_x"), "postgresql"))
            tables = sa.inspect(conn).get_table_names(schema=f"{pg_schema}_x")
            assert sorted(tables) == sorted(t.name for t in orm.layout), case
            for t in orm.layout:
                cols = [c["name"] for c in sa.inspect(conn).get_columns(t.name, schema=f"{pg_schema}_x")]
                assert cols == [c.name for c in t.columns], (case, t.name)   # no silent truncation
            conn.exec_driver_sql(f'drop schema "{pg_schema}_x" cascade')
