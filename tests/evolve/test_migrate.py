"""`sg2dbt migrate`: raw tables follow the schema through Alembic; data-losing changes need a flag.

Runs on SQLite, DuckDB and PostgreSQL. The Alembic environment made by `sg2dbt migrate init` is driven
through Alembic's own command API (what the `alembic` CLI calls).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from sg2dbt.cli import main
from sg2dbt.core.errors import DriftError, MigrationError
from sg2dbt.core.layout import plan
from sg2dbt.evolve.environment import init_environment
from sg2dbt.evolve.migrate import (
    catalog_operations,
    classify,
    compare,
    drift,
    migrate_schema,
    require_no_drift,
    target_metadata,
)
from sg2dbt.schema import sources
from tests.support.evolve_schemas import v1, v2, write

V1 = sources.from_dict(v1(), source="v1")
V2 = sources.from_dict(v2(), source="v2")
NOW = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(params=["sqlite", "duckdb", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[sa.Engine, str | None]]:
    """An empty database and the raw schema to use in it (none on SQLite)."""
    if request.param == "postgresql":
        engine = request.getfixturevalue("pg_engine")
        yield engine, request.getfixturevalue("pg_schema")
        return
    url = f"sqlite:///{tmp_path / 'w.db'}" if request.param == "sqlite" else f"duckdb:///{tmp_path / 'w.duckdb'}"
    engine = sa.create_engine(url)
    yield engine, (None if request.param == "sqlite" else "shotgrid_raw")
    engine.dispose()


def _table(engine: sa.Engine, raw: str | None, name: str) -> str:
    prep = engine.dialect.identifier_preparer
    return f"{prep.quote_schema(raw)}.{prep.quote(name)}" if raw else prep.quote(name)


def _columns(engine: sa.Engine, raw: str | None, name: str) -> dict[str, str]:
    """Column name -> type as the database reports it (information_schema / PRAGMA; DuckDB cannot reflect)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(sa.text(f"select name, type from pragma_table_info('{name}')")).all()
        else:
            rows = conn.execute(sa.text(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = :s and table_name = :t"), {"s": raw, "t": name}).all()
    return {str(n): str(t).lower() for n, t in rows}


def _seed_v1(engine: sa.Engine, raw: str | None) -> None:
    migrate_schema(engine, V1, raw)
    with engine.begin() as conn:
        conn.execute(sa.text(f"insert into {_table(engine, raw, 'project')} (id, name, _sg_loaded_at) "
                             f"values (1, 'Alpha', :now)"), {"now": NOW})
        conn.execute(sa.text(
            f"insert into {_table(engine, raw, 'shot')} (id, code, sg_cut_in, sg_old_notes, project_id, "
            f"project_type, _sg_loaded_at) values (10, 'sh010', 1001, 'old', 1, 'Project', :now), "
            f"(11, 'sh020', 1017, null, 1, 'Project', :now)"), {"now": NOW})


def test_additive_changes_apply_destructive_ones_are_refused(db):
    engine, raw = db
    first = migrate_schema(engine, V1, raw)
    assert sorted(c.kind for c in first.applied) == ["create_table", "create_table"] and not first.refused
    _seed_v1(engine, raw)

    report = migrate_schema(engine, V2, raw)
    layout = plan(V2)
    shot = layout["Shot"]
    added = {c.name for c in shot.fields["sg_episode"].columns} | {shot.fields["sg_shot_type"].columns[0].name}
    assert sorted(c.description.rsplit(" ", 1)[0].rsplit(".", 1)[-1]
                  for c in report.applied if c.kind == "add_column") == sorted(added)
    assert [c.kind for c in report.applied if c.kind == "create_table"] == ["create_table"]
    assert sorted((c.kind, c.description.split(" from ")[0].rsplit(".", 1)[-1]) for c in report.refused) == [
        ("alter_type", "sg_cut_in"), ("drop_column", "sg_old_notes")]

    assert set(_columns(engine, raw, "custom_entity01")) == {c.name for c in layout["CustomEntity01"].columns}
    shot_columns = _columns(engine, raw, "shot")
    assert added <= set(shot_columns) and "sg_old_notes" in shot_columns
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"select id, code, sg_cut_in, sg_old_notes from {_table(engine, raw, 'shot')} "
                                    f"order by id")).all()
    assert [tuple(r) for r in rows] == [(10, "sh010", 1001, "old"), (11, "sh020", 1017, None)]

    # What is left is drift; the type change blocks a load, the leftover column does not.
    left = drift(layout, engine, raw)
    assert sorted(c.kind for c in left) == ["alter_type", "drop_column"] and all(c.destructive for c in left)
    assert [c.blocks_load for c in sorted(left, key=lambda c: c.kind)] == [True, False]
    with pytest.raises(DriftError, match=r"sg_cut_in.*--allow-destructive"):
        require_no_drift(layout, engine, raw)
    assert migrate_schema(engine, V2, raw).applied == []


def test_allow_destructive_drops_and_retypes_keeping_rows(db):
    engine, raw = db
    _seed_v1(engine, raw)
    migrate_schema(engine, V2, raw)
    report = migrate_schema(engine, V2, raw, allow_destructive=True)
    assert sorted(c.kind for c in report.applied) == ["alter_type", "drop_column"] and not report.refused
    assert "sg_old_notes" not in _columns(engine, raw, "shot")
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"select id, sg_cut_in from {_table(engine, raw, 'shot')} order by id")).all()
    assert [tuple(r) for r in rows] == [(10, 1001.0), (11, 1017.0)]
    assert all(isinstance(r[1], float) for r in rows)
    assert drift(plan(V2), engine, raw) == []
    require_no_drift(plan(V2), engine, raw)


def test_dry_run_changes_nothing(db):
    engine, raw = db
    report = migrate_schema(engine, V1, raw, dry_run=True)
    assert len(report.applied) == 2
    assert report.lines(dry_run=True)[0].startswith("would create table")
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names(schema=raw)
    assert "shot" not in names


def test_tables_sg2dbt_did_not_make_are_left_alone(db):
    engine, raw = db
    _seed_v1(engine, raw)
    with engine.begin() as conn:
        conn.execute(sa.text(f"create table {_table(engine, raw, 'users_own_notes')} (id bigint, note text)"))
        conn.execute(sa.text(f"create table {_table(engine, raw, '_sg2dbt_sync_state')} "
                             f"(entity text, high_water text, _sg_retired boolean, _sg_loaded_at text)"))
        index = "ix_shot_updated_at" if raw is None else f"{engine.dialect.identifier_preparer.quote('ix_shot')}"
        conn.execute(sa.text(f"create index {index} on {_table(engine, raw, 'shot')} (updated_at)"))
    only_shot = V1.filtered(only=["Shot"])        # Project's table is sg2dbt's: that one would be dropped
    report = migrate_schema(engine, only_shot, raw, allow_destructive=True)
    assert [(c.kind, c.table.rsplit(".", 1)[-1]) for c in report.applied] == [("drop_table", "project")]


def test_failed_type_change_leaves_everything_as_it_was(pg_engine, pg_schema):
    _seed_v1(pg_engine, pg_schema)
    new = v1()
    new["Shot"]["fields"]["code"] = {"data_type": {"value": "number"}}   # 'sh010' cannot become a number
    new["Shot"]["fields"]["sg_new"] = {"data_type": {"value": "text"}}
    with pytest.raises(MigrationError, match=r"change type of .*shot\.code from TEXT to BIGINT failed.*"
                                             r"nothing was changed"):
        migrate_schema(pg_engine, sources.from_dict(new), pg_schema, allow_destructive=True)
    assert "sg_new" not in _columns(pg_engine, pg_schema, "shot")


def test_dependent_views_are_dropped_with_a_destructive_change(pg_engine, pg_schema):
    _seed_v1(pg_engine, pg_schema)
    view = f'"{pg_schema}"."stg_shot"'
    with pg_engine.begin() as conn:
        conn.execute(sa.text(f'create view {view} as select id, sg_cut_in, code from "{pg_schema}".shot'))
    refused = migrate_schema(pg_engine, V2, pg_schema)
    assert refused.dropped_views == []
    report = migrate_schema(pg_engine, V2, pg_schema, allow_destructive=True)
    assert report.dropped_views == [view]
    assert any("drop view" in line and "dbt build" in line for line in report.lines())
    assert _columns(pg_engine, pg_schema, "shot")["sg_cut_in"] == "double precision"
    # A removed entity's table goes with the views on it.
    project_view = f'"{pg_schema}"."stg_project"'
    with pg_engine.begin() as conn:
        conn.execute(sa.text(f'create view {project_view} as select id, name from "{pg_schema}".project'))
    gone = migrate_schema(pg_engine, V2.filtered(ignore=["Project"]), pg_schema, allow_destructive=True)
    assert ([c.kind for c in gone.applied], gone.dropped_views) == (["drop_table"], [project_view])


def test_cli_refuses_with_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    old, new = write(tmp_path)
    url = f"sqlite:///{tmp_path / 'w.db'}"

    def run(*args: str) -> tuple[int, str, str]:
        """The CLI in-process through its real entry point: (exit status, stdout, stderr)."""
        try:
            main(["migrate", "--db", url, "--raw-schema", "", *args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = run("--schema", str(old))
    assert code == 0, err
    layout = plan(V1)
    assert out.splitlines() == [f"create table {t.name} ({len(t.columns)} columns)" for t in layout]
    code, out, err = run("--schema", str(new))
    assert code == 2
    assert "add column shot.sg_shot_type TEXT" in out.splitlines()
    (error,) = [line for line in err.splitlines() if line.startswith("sg2dbt: error:")]
    assert error.startswith("sg2dbt: error: refused 2 destructive change(s): ")
    assert "change type of shot.sg_cut_in from BIGINT to DOUBLE" in error and "drop column shot.sg_old_notes" in error
    assert error.endswith("Re-run with --allow-destructive to apply them")
    code, out, err = run("--schema", str(new), "--allow-destructive")
    assert code == 0 and sorted(out.splitlines())[0].startswith("change type of shot.sg_cut_in")
    assert run("--schema", str(new), "--dry-run")[1].strip() == "raw tables already match the schema"
    code, _, err = run()
    assert code == 2 and "--schema FILE and --db URL" in err


def _alembic(directory: Path) -> Config:
    return Config(str(directory / "alembic.ini"))


def test_alembic_environment_autogenerates_and_upgrades(db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    engine, raw = db
    old, new = write(tmp_path)
    env_dir = tmp_path / "migrations"
    init_environment(env_dir, schema_path=str(old), url=engine.url.render_as_string(hide_password=False),
                     raw_schema=raw)
    cfg = _alembic(env_dir)
    command.revision(cfg, message="v1", autogenerate=True)
    command.upgrade(cfg, "head")
    assert set(_columns(engine, raw, "shot")) == {c.name for c in plan(V1)["Shot"].columns}
    _seed_v1(engine, raw)

    monkeypatch.setenv("SG2DBT_SCHEMA_FILE", str(new))     # the env var overrides alembic.ini
    script = command.revision(_alembic(env_dir), message="v2", autogenerate=True)
    text = Path(script.path).read_text()               # type: ignore[union-attr]
    assert "create_table('custom_entity01'" in text
    # SQLite revisions use batch mode: batch_op.add_column(sa.Column(...)) instead of op.add_column('shot', ...)
    for expected in (r"add_column\((?:'shot', )?sa\.Column\('sg_shot_type'",
                     r"drop_column\((?:'shot', )?'sg_old_notes'", r"alter_column\((?:'shot', )?'sg_cut_in'"):
        assert re.search(expected, text), expected
    command.upgrade(_alembic(env_dir), "head")
    assert drift(plan(V2), engine, raw) == []
    with engine.connect() as conn:
        assert conn.execute(sa.text(f"select count(*) from {_table(engine, raw, 'shot')}")).scalar_one() == 2
    # Nothing left to generate: the environment compares only the raw tables.
    again = command.revision(_alembic(env_dir), message="noop", autogenerate=True)
    body = Path(again.path).read_text().split("def upgrade")[1].split("def downgrade")[0]  # type: ignore[union-attr]
    assert "op." not in body


def test_init_refuses_an_existing_environment_and_hides_passwords(tmp_path: Path):
    old, _ = write(tmp_path)
    written = init_environment(tmp_path / "m", schema_path=str(old),
                               url="postgresql+psycopg://etl:s3cr%40t@db/warehouse", raw_schema="shotgrid_raw")
    ini = written[0].read_text()
    assert "s3cr" not in ini and "SG2DBT_DB" in ini
    with pytest.raises(MigrationError, match="already exists"):
        init_environment(tmp_path / "m", schema_path=str(old), url="sqlite://", raw_schema=None)


def test_cli_init_then_alembic_upgrade(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    old, _ = write(tmp_path)
    db = tmp_path / "w.db"
    env_dir = tmp_path / "migrations"
    try:
        main(["migrate", "init", "--dir", str(env_dir), "--schema", str(old), "--db", f"sqlite:///{db}",
              "--raw-schema", ""])
    except SystemExit as exc:
        assert exc.code == 0
    assert "next: alembic -c" in capsys.readouterr().err
    command.revision(_alembic(env_dir), message="v1", autogenerate=True)
    command.upgrade(_alembic(env_dir), "head")
    engine = sa.create_engine(f"sqlite:///{db}")
    assert drift(plan(V1), engine, None) == []
    engine.dispose()


def test_catalog_precheck_agrees_with_alembic(pg_engine: sa.Engine, pg_schema: str):
    """The loader's fast drift pre-check (information_schema) finds exactly what Alembic's comparison finds."""
    _seed_v1(pg_engine, pg_schema)
    metadata = target_metadata(V2, pg_schema)
    with pg_engine.connect() as conn:
        alembic_view = {(c.kind, c.description.split(" ")[2].split("(")[0]) for c in compare(conn, metadata, pg_schema)}
        fast = [classify(op, conn.dialect) for op in catalog_operations(conn, metadata, pg_schema)]
        assert catalog_operations(conn, target_metadata(V1, pg_schema), pg_schema) == []
    assert {(c.kind, c.description.split(" ")[2].split("(")[0]) for c in fast if c} == alembic_view
    assert len(alembic_view) == 6     # a table, three columns, a type change, a drop
