"""Land raw tables as Parquet files where Spark (or Databricks, Trino, DuckDB...) reads them.

`sg2dbt load` keeps its state, upserts and retirements in a SQL database (DuckDB on a laptop); this copies
each loaded raw table to ``<root>/<table>/part-00000.parquet``, typed from the type map (the records' ``arrow``,
which Spark reads as their ``spark_ddl``), so the Spark target of the dbt project reads the same rows the
DuckDB target does. A table's file is replaced atomically: it is written under a name Spark ignores
(leading ``.``) and renamed over the old one, so a reader sees the old snapshot or the new, never half.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from sg2dbt.core.errors import Sg2dbtError
from sg2dbt.core.layout import RawLayout, RawTable
from sg2dbt.core.secrets import display_database_url, redacted_first_line
from sg2dbt.core.typemap import STORAGE, Logical
from sg2dbt.core.values import json_text
from sg2dbt.emit.metadata import build_metadata

PART = "part-00000.parquet"
BATCH_ROWS = 50_000


def _batches(conn: sa.Connection, table: sa.Table, raw: RawTable, schema: Any) -> Iterator[Any]:
    import pyarrow as pa

    json_columns = [i for i, c in enumerate(raw.columns) if c.logical is Logical.JSON]
    result = conn.execution_options(stream_results=True).execute(
        sa.select(*[table.c[c.attr] for c in raw.columns]).order_by(table.c.id))
    while rows := result.fetchmany(BATCH_ROWS):
        columns = [list(col) for col in zip(*rows, strict=True)]
        for i in json_columns:  # the raw table holds JSON (an object) where the dialect has it; Parquet, its text
            columns[i] = [v if v is None or isinstance(v, str) else json_text(v) for v in columns[i]]
        yield pa.RecordBatch.from_arrays([pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)],
                                         schema=schema)


def land_table(conn: sa.Connection, table: sa.Table, raw: RawTable, root: Path) -> int:
    """Write one raw table to ``root/<table>/part-00000.parquet``; returns the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([pa.field(c.name, STORAGE[c.logical].arrow(pa)) for c in raw.columns])
    folder = root / raw.name
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{PART}.tmp"
    rows = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        for batch in _batches(conn, table, raw, schema):
            writer.write_batch(batch)
            rows += batch.num_rows
        if rows == 0:
            writer.write_table(schema.empty_table())  # an empty table still has its columns for Spark
    os.replace(tmp, folder / PART)
    return rows


def land_parquet(engine: sa.Engine, layout: RawLayout, raw_schema: str | None, root: str | Path) -> dict[str, int]:
    """Copy every raw table of ``layout`` from ``engine`` into Parquet under ``root``; rows per table."""
    root = Path(root)
    metadata = build_metadata(layout, raw_schema)
    by_name = {t.name: t for t in metadata.tables.values()}
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for raw in layout:
            try:
                counts[raw.name] = land_table(conn, by_name[raw.name], raw, root)
            except sa.exc.SQLAlchemyError as exc:
                raise Sg2dbtError(f"{raw.entity.name}: cannot read raw table {raw.name} from "
                                  f"{display_database_url(engine.url)}: {redacted_first_line(exc)}") from None
            except OSError as exc:
                raise Sg2dbtError(f"{raw.entity.name}: cannot write {root / raw.name}: {exc}") from exc
    return counts
