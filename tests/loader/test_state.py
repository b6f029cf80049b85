"""The sync state (loader/state.py): one row per entity, written with the dialect's upsert, read back aware."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa

from sg2dbt.core.layout import plan
from sg2dbt.loader import state
from sg2dbt.schema import sources
from tests.conftest import REPO

SCHEMA = sources.from_path(REPO / "examples" / "studio" / "schema.json")
UTC = dt.timezone.utc


@pytest.fixture(params=["sqlite", "duckdb", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path) -> sa.Engine:
    if request.param == "postgresql":
        return request.getfixturevalue("pg_engine")
    return sa.create_engine(f"{request.param}:///{tmp_path / 'state.db'}")


def test_write_then_read_round_trips_and_a_second_write_replaces(engine: sa.Engine, request) -> None:
    schema = request.getfixturevalue("pg_schema") if engine.dialect.name == "postgresql" else None
    metadata = sa.MetaData()
    table = state.sync_table(metadata, schema)
    metadata.create_all(engine)
    layout = plan(SCHEMA)
    first = state.SyncState(entity="Shot", table_name="shot", high_water=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                            last_full_load=None, last_sync=dt.datetime(2026, 1, 2, 4, tzinfo=UTC),
                            fields_hash=state.fields_hash(layout["Shot"]), rows_live=10, rows_retired=1)
    with engine.begin() as conn:
        assert state.read(conn, table, "Shot") is None
        state.write(conn, table, first)
    second = dataclasses.replace(first, high_water=None, rows_live=12, last_full_load=first.last_sync)
    with engine.begin() as conn:
        assert state.read(conn, table, "Shot") == first
        state.write(conn, table, second)
    with engine.connect() as conn:
        assert state.read(conn, table, "Shot") == second
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 1


def test_covers_a_subset_of_the_stored_columns_but_not_a_new_one() -> None:
    """A load that leaves fields out stays incremental (the rows still hold what it writes); a field the
    site gained forces a full reload (the rows hold nothing for it)."""
    full = plan(SCHEMA)["Shot"]
    fewer = plan(SCHEMA.filtered(ignore_fields=["Shot.code"]))["Shot"]
    stored = state.fields_hash(fewer)
    assert state.covers(state.fields_hash(full), fewer)
    assert not state.covers(stored, full)
    assert state.covers(stored, fewer)
