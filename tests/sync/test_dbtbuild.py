"""What ``sync`` asks dbt to build after a cycle (``dbt_build: changed``): bridge tables hold copies of the raw
rows, so the stored models downstream of each table that got rows are rebuilt, views never need it."""

from __future__ import annotations

import sqlalchemy as sa

from sg2dbt.loader.run import EntityResult
from sg2dbt.sync.dbtbuild import DbtStep
from sg2dbt.sync.run import CycleSummary, SyncOptions


def selection(**summary: object) -> list[str] | None:
    return DbtStep(sa.make_url("duckdb:///w.duckdb"), SyncOptions()).selection(
        CycleSummary(started_at="2026-01-01T00:00:00Z", **summary))  # type: ignore[arg-type]


def test_rows_rebuild_the_stored_models_of_their_tables_only() -> None:
    assert selection() is None
    assert selection(entities=[EntityResult("Asset", "asset")]) is None      # read, nothing written
    assert selection(entities=[EntityResult("Shot", "shot", rows=2), EntityResult("Asset", "asset", retired=1)]) == [
        "--select", "source:shotgrid.asset+,config.materialized:table source:shotgrid.shot+,config.materialized:table"]


def test_a_schema_change_rebuilds_everything_downstream_of_the_changed_table() -> None:
    changed = {"changed_tables": ["shot"], "project_files_written": True}
    assert selection(schema=changed, entities=[EntityResult("Shot", "shot", rows=2)]) == [
        "--select", "source:shotgrid.shot+"]
    assert selection(schema={"project_created": True}) == []
