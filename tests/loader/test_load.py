"""``sg2dbt load`` against Mockgun seeded with the shared real schema, on PostgreSQL, DuckDB and SQLite.

The expected rows are computed here from the site's records by the SPEC's rules (links to id/type, multi-entity
to aligned comma lists, dates, UTC datetimes, JSON), independently of the loader's converter; only column names
come from the layout, which is the contract.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sg2dbt.core.layout import RawLayout, RawTable, Role, plan
from sg2dbt.core.model import Schema
from sg2dbt.emit.metadata import build_metadata
from sg2dbt.loader import LoadOptions, SiteSource, load
from sg2dbt.schema import sources
from tests.support.sgsite import seed_mockgun

UTC = dt.timezone.utc
N = 60   # records per entity


def covering_entities(schema: Schema) -> list[str]:
    """A few entities that between them use every readable data type of the schema, plus one without
    updated_at (reloaded whole) — so "every data type in use" is checked without loading all 77."""
    wanted = {f.data_type for e in schema for f in e.fields.values()} - {"pivot_column", "summary"}
    chosen: list[str] = []
    covered: set[str] = set()
    while wanted - covered:
        best = max(schema, key=lambda e: len({f.data_type for f in e.fields.values()} & (wanted - covered)))
        chosen.append(best.name)
        covered |= {f.data_type for f in best.fields.values()}
    chosen.append(next(e.name for e in schema if not e.has_updated_at and e.name.endswith("Connection")))
    return sorted(set(chosen))


@pytest.fixture(scope="module")
def site_schema(real_schema_pickles: tuple[Path, Path]) -> Schema:
    full = sources.from_mockgun_pickles(*real_schema_pickles)
    return full.filtered(only=covering_entities(full))


@pytest.fixture
def mock_site(real_schema_pickles: tuple[Path, Path], site_schema: Schema) -> Any:
    from shotgun_api3.lib.mockgun import Shotgun

    Shotgun.set_schema_paths(*(str(p) for p in real_schema_pickles))
    sg = Shotgun("https://mock.example.com", "loader-test", "not-a-key")
    for entity in site_schema:
        seed_mockgun(sg, site_schema, entity.name, range(1, N + 1))
        for rid in (3, 4):
            sg.delete(entity.name, rid)
    return sg


MARIADB_URL = os.environ.get("SG2DBT_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql")


@pytest.fixture(params=["postgresql", "duckdb", "sqlite", "mariadb"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[sa.Engine, str | None]]:
    if request.param == "postgresql":
        pg_schema = request.getfixturevalue("pg_schema")
        engine = request.getfixturevalue("pg_engine")
        yield engine, pg_schema
        return
    if request.param == "mariadb":
        engine = sa.create_engine(MARIADB_URL)
        try:
            with engine.connect():
                pass
        except sa.exc.OperationalError as exc:
            engine.dispose()
            pytest.skip(f"MariaDB not reachable at {MARIADB_URL}: {str(exc).splitlines()[0]}")
        database = f"t_{uuid.uuid4().hex[:12]}"   # a MySQL "schema" is a database
        yield engine, database
        with engine.begin() as conn:
            conn.exec_driver_sql(f"drop database if exists `{database}`")
        engine.dispose()
        return
    url = f"duckdb:///{tmp_path / 'w.duckdb'}" if request.param == "duckdb" else f"sqlite:///{tmp_path / 'w.db'}"
    engine = sa.create_engine(url)
    yield engine, ("raw" if request.param == "duckdb" else None)
    engine.dispose()


# --- expected rows, by the SPEC's rules -----------------------------------------------------------------

def _as_utc(value: Any) -> Any:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def expected_columns(raw: RawTable, rec: dict[str, Any], retired: bool) -> dict[str, Any]:
    out: dict[str, Any] = {raw.column(c.name).name: None for c in raw.columns if c.field is not None}
    for name, rf in raw.fields.items():
        if not rf.columns:
            continue
        v = rec.get(name)
        dtype = rf.field.data_type
        if rf.columns[0].role in (Role.LINK_ID,):
            out[rf.column(Role.LINK_ID).name] = v["id"] if v else None
            out[rf.column(Role.LINK_TYPE).name] = v["type"] if v else None
        elif rf.columns[0].role is Role.LINK_IDS:
            out[rf.column(Role.LINK_IDS).name] = ",".join(str(x["id"]) for x in v) if v else None
            out[rf.column(Role.LINK_TYPE).name] = ",".join(x["type"] for x in v) if v else None
        elif v is None:
            continue
        elif dtype == "date":
            out[rf.columns[0].name] = dt.date.fromisoformat(v)
        elif dtype == "date_time":
            out[rf.columns[0].name] = _as_utc(v)
        else:
            out[rf.columns[0].name] = v
    out["_sg_retired"] = retired
    return out


def site_rows(sg: Any, raw: RawTable) -> dict[int, dict[str, Any]]:
    fields = [n for n, rf in raw.fields.items() if rf.columns]
    rows = {}
    for retired in (False, True):
        for rec in sg.find(raw.entity.name, [], fields, retired_only=retired):
            rows[rec["id"]] = expected_columns(raw, rec, retired)
    return rows


def db_rows(engine: sa.Engine, layout: RawLayout, raw_schema: str | None, entity: str) -> dict[int, dict[str, Any]]:
    table = next(t for t in build_metadata(layout, raw_schema).tables.values() if t.info["sg_entity"] == entity)
    out: dict[int, dict[str, Any]] = {}
    with engine.connect() as conn:
        for row in conn.execute(sa.select(table)):
            values = dict(zip([c.name for c in table.columns], row, strict=True))
            for k, v in values.items():
                if isinstance(v, dt.datetime):
                    values[k] = _as_utc(v)
            assert values["id"] not in out
            out[values["id"]] = values
    return out


def assert_tables_match_site(engine: sa.Engine, layout: RawLayout, raw_schema: str | None, sg: Any) -> None:
    for raw in layout:
        expected = site_rows(sg, raw)
        actual = db_rows(engine, layout, raw_schema, raw.entity.name)
        assert sorted(actual) == sorted(expected), raw.entity.name
        for rid, exp in expected.items():
            got = actual[rid]
            assert got["_sg_loaded_at"] is not None
            for col, value in exp.items():
                assert got[col] == value, f"{raw.entity.name} id {rid} column {col}: {got[col]!r} != {value!r}"


def test_covering_entities_use_every_data_type(site_schema: Schema, real_schema_pickles: tuple[Path, Path]) -> None:
    full = sources.from_mockgun_pickles(*real_schema_pickles)
    in_use = {f.data_type for e in full for f in e.fields.values()} - {"pivot_column", "summary"}
    assert in_use <= {f.data_type for e in site_schema for f in e.fields.values()}
    assert any(not e.has_updated_at for e in site_schema)


def test_full_then_incremental_equals_site(warehouse: tuple[sa.Engine, str | None], mock_site: Any,
                                           site_schema: Schema) -> None:
    engine, raw_schema = warehouse
    layout = plan(site_schema)
    source = SiteSource(lambda: mock_site)
    options = LoadOptions(raw_schema=raw_schema, workers=3)

    first = load(engine, layout, source, options)
    assert not first.failed, [e.error for e in first.failed]
    assert {e.mode for e in first.entities} == {"full"}
    assert_tables_match_site(engine, layout, raw_schema, mock_site)

    # updates (one moves updated_at, the other changes only values after a revival), creates, retirements,
    # a revival whose updated_at does not move. SG's datetimes have whole seconds.
    now = dt.datetime.now(UTC).replace(microsecond=0)
    for entity in site_schema:
        name = entity.name
        seed_mockgun(mock_site, site_schema, name, range(10, 13), variant=1000, updated_at=now)
        seed_mockgun(mock_site, site_schema, name, range(N + 1, N + 6), updated_at=now)
        mock_site.delete(name, 20)
        mock_site.delete(name, N + 5)
        mock_site.revive(name, 3)

    second = load(engine, layout, source, options)
    assert not second.failed, [e.error for e in second.failed]
    modes = {e.entity: e.mode for e in second.entities}
    assert all(modes[e.name] == ("incremental" if e.has_updated_at else "full") for e in site_schema)
    incremental = next(e for e in second.entities if e.mode == "incremental")
    assert incremental.revived == 1 and incremental.retired == 2
    assert incremental.rows < N, "an incremental load re-reads only what changed"
    assert_tables_match_site(engine, layout, raw_schema, mock_site)


def test_value_that_does_not_fit_names_entity_id_and_field(warehouse: tuple[sa.Engine, str | None],
                                                           mock_site: Any, site_schema: Schema) -> None:
    engine, raw_schema = warehouse
    layout = plan(site_schema.filtered(only=["Shot"])) if "Shot" in site_schema else plan(site_schema)
    raw = next(iter(layout))
    number = next(n for n, rf in raw.fields.items() if rf.field.data_type == "number" and n != "id")
    mock_site._db[raw.entity.name][17][number] = "twelve"
    summary = load(engine, layout, SiteSource(lambda: mock_site), LoadOptions(raw_schema=raw_schema))
    [failed] = summary.failed
    assert f"entity {raw.entity.name!r}, id 17, field {number!r}" in (failed.error or "")
    # nothing half-written: the entity's transaction rolled back, so its table is empty
    assert db_rows(engine, layout, raw_schema, raw.entity.name) == {}

    mock_site._db[raw.entity.name][17][number] = 2**70   # fits Python, not BIGINT
    summary = load(engine, layout, SiteSource(lambda: mock_site), LoadOptions(raw_schema=raw_schema))
    assert f"id 17, field {number!r}: integer" in (summary.failed[0].error or "")


def test_full_refresh_reloads_whole(duckdb_path: Path, mock_site: Any, site_schema: Schema) -> None:
    engine, raw_schema = sa.create_engine(f"duckdb:///{duckdb_path}"), "raw"
    layout = plan(site_schema)
    source = SiteSource(lambda: mock_site)
    load(engine, layout, source, LoadOptions(raw_schema=raw_schema))
    again = load(engine, layout, source, LoadOptions(raw_schema=raw_schema, full_refresh=True))
    assert {e.mode for e in again.entities} == {"full"}
    assert_tables_match_site(engine, layout, raw_schema, mock_site)


def test_terminal_progress_follows_parallel_entities(duckdb_path: Path, mock_site: Any, site_schema: Schema) -> None:
    from sg2dbt.loader.progress import RichProgress

    engine = sa.create_engine(f"duckdb:///{duckdb_path}")
    layout = plan(site_schema)
    with RichProgress(len(layout.tables)) as hook:
        summary = load(engine, layout, SiteSource(lambda: mock_site), LoadOptions(raw_schema="raw", workers=3),
                       progress=hook)
        assert not summary.failed, [e.error for e in summary.failed]
        assert hook.total == summary.rows and not hook.tasks   # every entity's bar came and went
    engine.dispose()


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from sg2dbt.cli import main

    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_loads_a_json_dump_and_prints_a_json_summary(tmp_path: Path, real_schema_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    import json

    dump = tmp_path / "dump"
    dump.mkdir()
    records = [{"type": "Shot", "id": i, "code": f"sh{i:03d}", "sg_cut_in": 1000 + i,
                "updated_at": "2008-06-11 08:48:54+02:00", "created_at": "2008-06-11T06:48:54Z",
                "sg_sequence": {"type": "Sequence", "id": 3, "name": "sq3"},
                "assets": [{"type": "Asset", "id": 9}, {"type": "Asset", "id": 4}]} for i in (5, 1, 3)]
    (dump / "Shot.json").write_text(json.dumps(records), encoding="utf-8")   # a list, in no particular order
    db = f"sqlite:///{tmp_path / 'w.db'}"
    code, out, err = _cli(capsys, "load", "--schema", str(real_schema_path), "--only", "Shot", "--db", db,
                          "--from-dump", str(dump), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert [(e["entity"], e["mode"], e["rows"], e["rows_live"]) for e in summary["entities"]] == [
        ("Shot", "full", 3, 3)]
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select id, code, sg_cut_in, updated_at, sg_sequence_id, sg_sequence_type, "
                                    "assets_ids, assets_type, _sg_retired from shot order by id")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        (i, f"sh{i:03d}", 1000 + i, "2008-06-11 06:48:54.000000", 3, "Sequence", "9,4", "Asset,Asset", 0)
        for i in (1, 3, 5)]

    code, out, err = _cli(capsys, "load", "--schema", str(real_schema_path), "--only", "Shot", "--only", "Asset",
                          "--db", db, "--from-dump", str(dump), "--quiet")
    assert code == 2
    assert err.strip().splitlines() == [
        f"sg2dbt: error: 1 of 2 entities failed; first: dump {dump}: no Asset.jsonl or Asset.json "
        f"(leave the entity out with --ignore)"]


def test_incremental_dump_load_names_a_malformed_updated_at(tmp_path: Path, real_schema_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    import json

    dump = tmp_path / "dump"
    dump.mkdir()
    shot = dump / "Shot.jsonl"
    shot.write_text("".join(json.dumps({"type": "Shot", "id": i, "code": f"sh{i}",
                                        "updated_at": "2008-06-11T06:48:54Z"}) + "\n" for i in (1, 2)),
                    encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'w.db'}"
    args = ("load", "--schema", str(real_schema_path), "--only", "Shot", "--db", db, "--from-dump", str(dump))
    code, _, err = _cli(capsys, *args, "--quiet")
    assert code == 0, err
    with shot.open("a", encoding="utf-8") as fh:   # the incremental pass filters on updated_at
        fh.write(json.dumps({"type": "Shot", "id": 3, "code": "sh3", "updated_at": "yesterday"}) + "\n")

    code, _, err = _cli(capsys, *args, "--quiet")

    assert code == 2
    assert "Traceback" not in err
    assert "entity 'Shot', id 3, field 'updated_at'" in err
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select id from shot order by id")).scalars().all() == [1, 2]
    engine.dispose()


def test_two_loaders_at_once_wait_for_each_other(pg_engine: sa.Engine, pg_schema: str, mock_site: Any,
                                                 site_schema: Schema) -> None:
    from concurrent.futures import ThreadPoolExecutor

    layout = plan(site_schema)
    source = SiteSource(lambda: mock_site)
    load(pg_engine, layout, source, LoadOptions(raw_schema=pg_schema))
    # an overrunning cron job: two full reloads of the same tables at the same time
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: load(pg_engine, layout, source, LoadOptions(
            raw_schema=pg_schema, full_refresh=True, workers=2)), range(2)))
    assert [[e.error for e in r.failed] for r in runs] == [[], []]
    assert_tables_match_site(pg_engine, layout, pg_schema, mock_site)


@pytest.mark.parametrize(("field", "value", "why"), [
    ("sg_cut_in", "12.5", "expected an integer"),
    ("sg_cut_in", True, "expected an integer"),
    ("sg_cut_in", 2**63, "outside the 64-bit range"),
    ("sg_cut_in", 1.5, "expected an integer"),
    ("code", "nul\x00byte", "NUL character"),
    ("updated_at", "yesterday", "Invalid isoformat"),
    ("sg_sequence", {"type": "Sequence"}, "missing key 'id'"),
    ("sg_sequence", 12, "expected an entity link"),
    ("assets", [{"type": "Asset", "id": "x"}], "ids must be integers"),
    ("assets", [{"type": "As,set", "id": 1}], "contains a comma"),
    ("assets", "Asset 1", "expected a list of entity links"),
    ("assets", [{"type": "Asset", "id": 2**63}], "outside the 64-bit range"),
    ("assets", [{"type": "Asset", "id": True}], "ids must be integers"),
    ("assets", [{"type": "Asset\x00", "id": 1}], "NUL character"),
    ("sg_sequence", {"type": "Sequence", "id": False}, "expected an integer id"),
    ("sg_sequence", {"type": "Seq\x00", "id": 1}, "NUL character"),
    ("code", "lone \ud800 surrogate", "lone surrogate"),
    ("sg_cut_in", 1e30, "outside the 64-bit range"),
])
def test_each_misfit_value_names_entity_id_and_field(real_schema_path: Path, field: str, value: Any,
                                                      why: str) -> None:
    from sg2dbt.core.convert import RowConverter
    from sg2dbt.core.errors import ValueFitError

    schema = sources.from_path(real_schema_path).filtered(only=["Shot"])
    conv = RowConverter(plan(schema)["Shot"])
    with pytest.raises(ValueFitError) as info:
        conv.row({"type": "Shot", "id": 42, field: value}, False, dt.datetime.now(UTC))
    assert str(info.value).startswith(f"entity 'Shot', id 42, field {field!r}: ")
    assert why in str(info.value)


def test_a_load_through_range_split_scans_equals_the_site(warehouse: tuple[sa.Engine, str | None], mock_site: Any,
                                                           site_schema: Schema) -> None:
    """Pages of 7, so every entity's full pass is split into id ranges read three requests at a time
    (tests/loader/test_ranges.py covers the scans themselves)."""
    engine, raw_schema = warehouse
    layout = plan(site_schema)
    summary = load(engine, layout, SiteSource(lambda: mock_site, page_size=7, max_requests=3),
                   LoadOptions(raw_schema=raw_schema, workers=2))
    assert not summary.failed, [e.error for e in summary.failed]
    assert_tables_match_site(engine, layout, raw_schema, mock_site)


def test_the_cycle_collector_runs_less_often_during_a_load_and_as_before_after_it(
        duckdb_path: Path, mock_site: Any, site_schema: Schema) -> None:
    import gc

    engine, layout = sa.create_engine(f"duckdb:///{duckdb_path}"), plan(site_schema)
    during: list[tuple[int, int, int]] = []
    source = SiteSource(lambda: mock_site)
    pages = source.pages

    def watched(*args: Any, **kw: Any) -> Iterator[list[dict[str, Any]]]:
        during.append(gc.get_threshold())
        return pages(*args, **kw)

    source.pages = watched  # type: ignore[method-assign]
    before = gc.get_threshold()
    assert not load(engine, layout, source, LoadOptions(raw_schema="raw")).failed
    assert during and all(t[0] >= 50_000 for t in during)
    assert gc.get_threshold() == before


def test_overlapping_loads_leave_the_cycle_collector_as_they_found_it() -> None:
    """Two loads in one process (a library caller's threads), the first done while the second runs: the
    threshold stays raised until the last one ends, then is what it was before either began."""
    import gc

    from sg2dbt.loader.run import _few_collections

    before = gc.get_threshold()
    first, second = _few_collections(), _few_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold()[0] >= 50_000
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before


def test_a_full_reload_reads_retired_records_only_after_every_live_read(
        duckdb_path: Path, mock_site: Any, site_schema: Schema) -> None:
    """The retired pass is fetched as soon as the live pass's last reply is in, never sooner: a record
    retired between the two passes is then still read (retired), and stored as the later read."""
    import threading
    import time

    engine, layout = sa.create_engine(f"duckdb:///{duckdb_path}"), plan(site_schema)
    calls: list[tuple[str, bool, float, float]] = []
    lock = threading.Lock()
    find = mock_site.find

    def timed(entity: str, *args: Any, **kw: Any) -> Any:
        start = time.monotonic()
        time.sleep(0.002)
        try:
            return find(entity, *args, **kw)
        finally:
            with lock:
                calls.append((entity, bool(kw.get("retired_only")), start, time.monotonic()))

    mock_site.find = timed
    summary = load(engine, layout, SiteSource(lambda: mock_site, page_size=7, max_requests=4),
                   LoadOptions(raw_schema="raw", workers=1))
    assert not summary.failed
    for entity in {c[0] for c in calls}:
        live = [c for c in calls if c[0] == entity and not c[1]]
        retired = [c for c in calls if c[0] == entity and c[1]]
        assert live and retired and min(c[2] for c in retired) >= max(c[3] for c in live), entity
