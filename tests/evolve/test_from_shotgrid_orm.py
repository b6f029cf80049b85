"""`sg2dbt migrate --from-shotgrid-orm`: a warehouse built by the real shotgrid_orm package (PascalCase tables,
foreign keys, no `_type` on single-type links, dates as text) becomes sg2dbt's raw layout with every row
kept, and `sg2dbt load` then sees no drift. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

shotgrid_orm = pytest.importorskip("shotgrid_orm.classes", reason="shotgrid_orm is in the test extra")

ENTITIES = ["Asset", "Project", "Sequence", "Shot", "Task"]
CLI = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def schema_file(real_schema_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    doc = json.loads(real_schema_path.read_text(encoding="utf-8"))
    doc = {name: doc[name] for name in ENTITIES}
    doc["Shot"]["fields"]["metadata"] = {"data_type": {"value": "serializable"}, "name": {"value": "Metadata"},
                                         "properties": {}}
    path = tmp_path_factory.mktemp("sgorm") / "schema.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """(URL, raw schema): SQLite has no schemas; on PostgreSQL shotgrid_orm's tables sit in a fresh schema
    that is the connection's default (search_path), and sg2dbt's go to a second fresh schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wh.db'}", None
        return
    pg = request.getfixturevalue("pg_engine")
    source = request.getfixturevalue("pg_schema")
    raw = f"{source}_raw"
    url = pg.url.update_query_dict({"options": f"-csearch_path={source}"}).render_as_string(hide_password=False)
    yield url, raw
    with pg.begin() as conn:
        conn.execute(sa.text(f'drop schema if exists "{raw}" cascade'))


def build_with_shotgrid_orm(schema_file: Path, url: str) -> None:
    """What a shotgrid_orm user has: its classes' tables, filled through its ORM (README usage)."""
    from sqlalchemy.orm import Session

    sg_orm = shotgrid_orm.SGORM(shotgrid_orm.SchemaType.JSON_FILE, str(schema_file), echo=False)
    engine = sa.create_engine(url)
    sg_orm.Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(sg_orm["Project"](id=1, name="Demo"))
        session.flush()   # its foreign keys need the parents first (shotgrid_orm maps no relationships)
        session.add(sg_orm["Sequence"](id=10, code="SQ01", project_id=1))
        session.add_all([sg_orm["Asset"](id=i, code=f"A{i}", project_id=1) for i in (5, 6)])
        session.flush()
        for i in range(1, 4):
            shot = sg_orm["Shot"](id=100 + i, code=f"{i:03d}", project_id=1, sg_sequence_id=10 if i != 2 else None,
                                  assets_ids="5,6" if i == 1 else None)
            shot._metadata = json.dumps({"n": i})
            session.add(shot)
        session.flush()
        session.add(sg_orm["Task"](id=7, content="comp", entity_id=101, entity_type="Shot", due_date="2024-05-01",
                                   start_date=None))
        session.commit()
    engine.dispose()


def test_port_keeps_every_row(schema_file: Path, warehouse: tuple[str, str | None], cli: CLI) -> None:
    url, raw = warehouse
    build_with_shotgrid_orm(schema_file, url)
    engine = sa.create_engine(url)
    before = sa.inspect(engine)
    assert set(ENTITIES) <= set(before.get_table_names())
    assert before.get_foreign_keys("Shot")                       # shotgrid_orm made foreign keys
    assert "project_type" not in {c["name"] for c in before.get_columns("Shot")}
    engine.dispose()

    raw_args = ("--raw-schema", raw or "")
    code, out, err = cli("migrate", "--from-shotgrid-orm", "--dry-run", "--schema", str(schema_file), "--db", url,
                         *raw_args)
    assert code == 0, err
    assert "would move Shot -> " in out and "(3 rows)" in out
    engine = sa.create_engine(url)
    assert "Shot" in sa.inspect(engine).get_table_names()   # a dry run changes nothing
    engine.dispose()
    code, out, err = cli("migrate", "--from-shotgrid-orm", "--schema", str(schema_file), "--db", url, *raw_args)
    assert code == 0, err
    assert "moved Shot -> " in out and "(3 rows)" in out

    engine = sa.create_engine(url)
    after = sa.inspect(engine)
    assert not set(ENTITIES) & set(after.get_table_names())       # the PascalCase tables are gone
    assert sorted(after.get_table_names(schema=raw)) == ["asset", "project", "sequence", "shot", "task"]
    assert all(not after.get_foreign_keys(t, schema=raw) for t in after.get_table_names(schema=raw))
    q = f'"{raw}".' if raw else ""
    with engine.connect() as conn:
        shots = conn.execute(sa.text(
            f"select id, code, project_id, project_type, sg_sequence_id, sg_sequence_type, assets_ids, assets_type, "
            f"metadata, _sg_retired from {q}shot order by id")).all()
        task = conn.execute(sa.text(f"select due_date, entity_id, entity_type from {q}task")).one()
        counts = {t: conn.execute(sa.text(f"select count(*) from {q}{t}")).scalar_one()
                  for t in ("project", "sequence", "asset", "shot", "task")}
    engine.dispose()
    assert counts == {"project": 1, "sequence": 1, "asset": 2, "shot": 3, "task": 1}
    meta = [json.loads(s[8]) if isinstance(s[8], str) else s[8] for s in shots]
    assert [tuple(s[:8]) for s in shots] == [
        (101, "001", 1, "Project", 10, "Sequence", "5,6", "Asset,Asset"),
        (102, "002", 1, "Project", None, None, None, None),
        (103, "003", 1, "Project", 10, "Sequence", None, None),
    ]
    assert meta == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert [bool(s[9]) for s in shots] == [False] * 3
    assert (str(task[0])[:10], task[1], task[2]) == (dt.date(2024, 5, 1).isoformat(), 101, "Shot")

    # the raw tables are now exactly what sg2dbt expects: migrate finds nothing to do
    code, out, err = cli("migrate", "--schema", str(schema_file), "--db", url, *raw_args)
    assert code == 0, err
    assert "raw tables already match the schema" in out


def test_port_refuses_columns_the_schema_does_not_have(schema_file: Path, tmp_path: Path, cli: CLI) -> None:
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    build_with_shotgrid_orm(schema_file, url)
    smaller = json.loads(schema_file.read_text(encoding="utf-8"))
    del smaller["Shot"]["fields"]["description"]
    other = tmp_path / "smaller.json"
    other.write_text(json.dumps(smaller), encoding="utf-8")
    code, _, err = cli("migrate", "--from-shotgrid-orm", "--schema", str(other), "--db", url, "--raw-schema", "")
    assert code == 2 and "table Shot: column(s) description are not fields of Shot" in err
    engine = sa.create_engine(url)
    assert "Shot" in sa.inspect(engine).get_table_names()       # nothing changed
    engine.dispose()
