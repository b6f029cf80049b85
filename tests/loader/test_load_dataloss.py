"""The loader never loses data with exit status 0 (issue #11): dumps, filters, duplicate ids, values.

Each test is a situation that lost or corrupted data silently before: a dump's high-water mark passing the
moment the dump was taken, an empty or truncated file emptying a table, ``--ignore-field`` wiping a column,
the same id twice in one pass, and values the staging layer casts later (64-bit ids, booleans, NUL). Each
runs the real CLI against a dump directory on DuckDB and PostgreSQL (and SQLite where a rule is per value).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL

Cli = Callable[..., tuple[int, str, str]]


class Warehouse:
    """One database for one test: the ``--db``/``--raw-schema`` arguments, and a way to read a table."""

    def __init__(self, url: str, raw_schema: str | None) -> None:
        self.url, self.raw_schema = url, raw_schema
        self.args = ("--db", url, *(("--raw-schema", raw_schema) if raw_schema else ()))

    def rows(self, table: str, columns: str = "id, code") -> list[tuple[Any, ...]]:
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                name = f'"{self.raw_schema}".{table}' if self.raw_schema else table
                return [tuple(r) for r in conn.execute(sa.text(f"select {columns} from {name} order by id"))]
        finally:
            engine.dispose()


def _warehouse(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Warehouse:
    if kind == "duckdb":
        return Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}", "shotgrid_raw")
    if kind == "sqlite":
        return Warehouse(f"sqlite:///{tmp_path / 'w.db'}", None)
    return Warehouse(PG_URL, request.getfixturevalue("pg_schema"))


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Warehouse:
    return _warehouse(request.param, request, tmp_path)


@pytest.fixture(params=["duckdb", "postgresql", "sqlite"])
def any_warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Warehouse:
    return _warehouse(request.param, request, tmp_path)


def shot(rid: int, code: str, updated: str, **more: Any) -> dict[str, Any]:
    return {"type": "Shot", "id": rid, "code": code, "updated_at": f"2024-05-01T{updated}:00Z", **more}


def write(dump: Path, entity: str, records: list[Any], *, retired: bool = False,
          manifest: dict[str, Any] | None = None) -> None:
    """A dump file; ``manifest`` is the ``_manifest.json`` document that ``sg2dbt dump`` writes (or None)."""
    dump.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in records)
    (dump / f"{entity}{'.retired' if retired else ''}.jsonl").write_text(text, encoding="utf-8")
    if manifest is not None:
        (dump / "_manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def manifest(started: str, **counts: tuple[int, int]) -> dict[str, Any]:
    at = f"2024-05-01T{started}:00+00:00"
    return {"format": "sg2dbt-dump/1", "started_at": at,
            "entities": {e: {"started_at": at, "live": live, "retired": retired}
                         for e, (live, retired) in counts.items()}}


def load(cli: Cli, schema: Path, wh: Warehouse, dump: Path, *extra: str, only: str = "Shot") -> tuple[int, Any, str]:
    code, out, err = cli("load", "--schema", str(schema), "--only", only, *wh.args, "--from-dump", str(dump),
                         "--json", *extra)
    assert "Traceback" not in err
    return code, json.loads(out), err


@pytest.mark.parametrize("with_manifest", [True, False])
def test_a_record_changed_while_a_dump_was_written_is_not_skipped(
        cli: Cli, real_schema_path: Path, warehouse: Warehouse, tmp_path: Path, with_manifest: bool) -> None:
    # dump 1 started at 10:05: Shot 1 was read before it changed at 10:10; Shot 2 changed at 10:25, read later
    dump = tmp_path / "dump"
    write(dump, "Shot", [shot(1, "old", "09:00"), shot(2, "two", "10:25")],
          manifest=manifest("10:05", Shot=(2, 0)) if with_manifest else None)
    assert load(cli, real_schema_path, warehouse, dump)[0] == 0
    (dump / "_manifest.json").unlink(missing_ok=True)
    write(dump, "Shot", [shot(1, "NEW", "10:10"), shot(2, "two", "10:25")],
          manifest=manifest("10:30", Shot=(2, 0)) if with_manifest else None)

    code, summary, err = load(cli, real_schema_path, warehouse, dump)

    assert code == 0, err
    assert warehouse.rows("shot") == [(1, "NEW"), (2, "two")]
    assert summary["entities"][0]["mode"] == ("incremental" if with_manifest else "full")


@pytest.mark.parametrize("damage", ["empty", "cut at a line boundary"])
def test_an_empty_or_truncated_file_never_empties_the_table(
        cli: Cli, real_schema_path: Path, warehouse: Warehouse, tmp_path: Path, damage: str) -> None:
    dump = tmp_path / "dump"
    records = [shot(i, f"sh{i}", "09:00") for i in (1, 2, 3)]
    write(dump, "Shot", records, manifest=manifest("10:00", Shot=(3, 0)))
    assert load(cli, real_schema_path, warehouse, dump)[0] == 0
    with_manifest = damage != "empty"
    if not with_manifest:
        (dump / "_manifest.json").unlink()
    write(dump, "Shot", [] if damage == "empty" else records[:2])

    code, summary, err = load(cli, real_schema_path, warehouse, dump, "--full-refresh")

    assert code == 2
    assert summary["failed"] == 1
    assert (("no records" in err) if damage == "empty" else ("holds 2 records but the dump's manifest says 3" in err))
    assert warehouse.rows("shot") == [(1, "sh1"), (2, "sh2"), (3, "sh3")]


def test_an_entity_the_manifest_says_is_empty_loads_empty(
        cli: Cli, real_schema_path: Path, warehouse: Warehouse, tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    write(dump, "Shot", [shot(1, "sh1", "09:00")])
    assert load(cli, real_schema_path, warehouse, dump)[0] == 0
    write(dump, "Shot", [], manifest=manifest("10:00", Shot=(0, 0)))
    code, _, err = load(cli, real_schema_path, warehouse, dump, "--full-refresh")
    assert code == 0, err
    assert warehouse.rows("shot") == []


def test_ignore_field_leaves_its_column_as_it_is(
        cli: Cli, real_schema_path: Path, warehouse: Warehouse, tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    write(dump, "Shot", [shot(i, f"sh{i}", "09:00", sg_cut_in=i) for i in (1, 2, 3)])
    assert load(cli, real_schema_path, warehouse, dump)[0] == 0
    ignore = ("--ignore-field", "Shot.code")
    # the site changes sg_cut_in of Shot 2; code is left out of the load
    write(dump, "Shot", [shot(1, "sh1", "09:00", sg_cut_in=1), shot(2, "x", "11:00", sg_cut_in=20),
                         shot(3, "sh3", "09:00", sg_cut_in=3)])
    code, summary, err = load(cli, real_schema_path, warehouse, dump, *ignore)
    assert code == 0, err
    assert warehouse.rows("shot", "id, code, sg_cut_in") == [(1, "sh1", 1), (2, "sh2", 20), (3, "sh3", 3)]

    # a full reload leaving the field out: Shot 3 is gone from the site, Shot 4 is new
    write(dump, "Shot", [shot(1, "y", "09:00", sg_cut_in=10), shot(2, "x", "11:00", sg_cut_in=20),
                         shot(4, "sh4", "12:00", sg_cut_in=4)])
    code, summary, err = load(cli, real_schema_path, warehouse, dump, *ignore, "--full-refresh")
    assert code == 0, err
    assert summary["entities"][0]["mode"] == "full"
    assert warehouse.rows("shot", "id, code, sg_cut_in") == [(1, "sh1", 10), (2, "sh2", 20), (4, None, 4)]

    # taking the field back in reloads it whole (rows loaded meanwhile lack it)
    code, summary, err = load(cli, real_schema_path, warehouse, dump)
    assert code == 0, err
    assert summary["entities"][0]["mode"] == "full"
    assert warehouse.rows("shot", "id, code, sg_cut_in") == [(1, "y", 10), (2, "x", 20), (4, "sh4", 4)]


@pytest.mark.parametrize("full", [False, True])
def test_the_same_id_twice_in_a_pass_is_refused_naming_the_id(
        cli: Cli, real_schema_path: Path, warehouse: Warehouse, tmp_path: Path, full: bool) -> None:
    dump = tmp_path / "dump"
    write(dump, "Shot", [shot(1, "sh1", "09:00"), shot(2, "sh2", "09:00")])
    assert load(cli, real_schema_path, warehouse, dump)[0] == 0
    engine = sa.create_engine(warehouse.url)
    with engine.connect() as conn:
        state_before = conn.execute(sa.text(
            f'select high_water from "{warehouse.raw_schema}"._sg2dbt_sync')).all()
    engine.dispose()
    # a concatenated dump: Shot 2 twice, the newer copy first
    write(dump, "Shot", [shot(1, "sh1", "09:00"), shot(2, "newer", "11:00"), shot(3, "sh3", "11:00"),
                         shot(2, "older", "10:00")])

    code, summary, err = load(cli, real_schema_path, warehouse, dump, *(("--full-refresh",) if full else ()))

    assert code == 2
    assert "entity 'Shot', id 2, field 'id': the record appears twice" in err
    assert summary["entities"][0]["error"].startswith("entity 'Shot', id 2, field 'id'")
    assert warehouse.rows("shot") == [(1, "sh1"), (2, "sh2")]
    engine = sa.create_engine(warehouse.url)
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            f'select high_water from "{warehouse.raw_schema}"._sg2dbt_sync')).all() == state_before
    engine.dispose()


def test_a_record_both_live_and_retired_is_stored_retired(
        cli: Cli, real_schema_path: Path, warehouse: Warehouse, tmp_path: Path) -> None:
    # retired between the live and the retired pass of a dump: the later (retired) read wins
    dump = tmp_path / "dump"
    write(dump, "Shot", [shot(1, "sh1", "09:00"), shot(2, "sh2", "09:00")])
    write(dump, "Shot", [shot(2, "sh2", "09:00")], retired=True)
    code, summary, err = load(cli, real_schema_path, warehouse, dump)
    assert code == 0, err
    assert warehouse.rows("shot", "id, code, _sg_retired") == [(1, "sh1", False), (2, "sh2", True)]
    assert (summary["entities"][0]["rows_live"], summary["entities"][0]["rows_retired"]) == (1, 1)


@pytest.mark.parametrize(("field", "value", "why"), [
    ("assets", [{"type": "Asset", "id": 2**64}], "outside the 64-bit range"),
    ("assets", [{"type": "Asset", "id": True}], "ids must be integers"),
    ("assets", [{"type": "Asset\u0000", "id": 1}], "NUL character"),
    ("sg_sequence", {"type": "Sequence", "id": 2**63}, "outside the 64-bit range"),
    ("sg_sequence", {"type": "Seq\u0000", "id": 1}, "NUL character"),
    ("tag_list", ["hero", "nul\u0000"], "NUL character"),
    ("sg_cut_in", "NaN", "expected an integer"),
    ("sg_cut_in", 1e19, "outside the 64-bit range"),
])
def test_values_the_staging_layer_casts_are_checked_on_every_dialect(
        cli: Cli, real_schema_path: Path, any_warehouse: Warehouse, tmp_path: Path, field: str, value: Any,
        why: str) -> None:
    dump = tmp_path / "dump"
    write(dump, "Shot", [shot(1, "sh1", "09:00")])
    assert load(cli, real_schema_path, any_warehouse, dump)[0] == 0
    write(dump, "Shot", [shot(1, "sh1", "09:00"), shot(7, "sh7", "11:00", **{field: value})])

    code, summary, err = load(cli, real_schema_path, any_warehouse, dump)

    assert code == 2
    assert summary["failed"] == 1
    assert f"entity 'Shot', id 7, field {field!r}: " in err and why in err
    assert any_warehouse.rows("shot") == [(1, "sh1")]


def test_numeric_strings_and_boolean_strings_load_as_their_values(
        cli: Cli, real_schema_path: Path, any_warehouse: Warehouse, tmp_path: Path) -> None:
    """#14: computed counts come back from real sites as '0', '12'; checkboxes as 'true'/'false'."""
    dump = tmp_path / "dump"
    records = [
        {"type": "Version", "id": 1, "frame_count": "12", "sg_first_frame": "-3", "sg_last_frame": "1e3",
         "sg_movie_aspect_ratio": "1.85", "sg_frames_aspect_ratio": "2", "flagged": "true",
         "sg_movie_has_slate": "False", "updated_at": "2024-05-01T09:00:00Z"},
        {"type": "Version", "id": 2, "frame_count": 12.0, "sg_first_frame": 0, "sg_last_frame": "1001",
         "sg_movie_aspect_ratio": 2, "sg_frames_aspect_ratio": 0.5, "flagged": False,
         "sg_movie_has_slate": True, "updated_at": "2024-05-01T09:00:00Z"},
    ]
    write(dump, "Version", records)
    code, _, err = load(cli, real_schema_path, any_warehouse, dump, only="Version")
    assert code == 0, err
    rows = any_warehouse.rows("version", "id, frame_count, sg_first_frame, sg_last_frame, sg_movie_aspect_ratio, "
                                         "sg_frames_aspect_ratio, flagged, sg_movie_has_slate")
    assert [tuple(bool(v) if i >= 6 else v for i, v in enumerate(r)) for r in rows] == [
        (1, 12, -3, 1000, 1.85, 2.0, True, False), (2, 12, 0, 1001, 2.0, 0.5, False, True)]


@pytest.mark.parametrize(("field", "value"), [
    ("frame_count", "12.5"), ("frame_count", "twelve"), ("frame_count", "1_000"), ("frame_count", " 12"),
    ("frame_count", "99999999999999999999"), ("sg_movie_aspect_ratio", "0.1000000000000000000001"),
    ("sg_movie_aspect_ratio", "inf"), ("sg_movie_aspect_ratio", 2**53 + 1), ("flagged", "yes"),
    ("flagged", 1), ("frame_count", False),
])
def test_what_cannot_be_stored_exactly_is_refused(
        cli: Cli, real_schema_path: Path, any_warehouse: Warehouse, tmp_path: Path, field: str,
        value: Any) -> None:
    dump = tmp_path / "dump"
    write(dump, "Version", [{"type": "Version", "id": 5, field: value, "updated_at": "2024-05-01T09:00:00Z"}])
    code, summary, err = load(cli, real_schema_path, any_warehouse, dump, only="Version")
    assert code == 2
    assert f"entity 'Version', id 5, field {field!r}: " in err
    assert summary["failed"] == 1
    assert any_warehouse.rows("version", "id") == []

