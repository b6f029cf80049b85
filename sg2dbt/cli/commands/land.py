"""``sg2dbt land-parquet``: copy the loaded raw tables to Parquet files where Spark reads them."""

from __future__ import annotations

import click

from sg2dbt.cli.commands.options import read_schema, schema_options
from sg2dbt.core.layout import DEFAULT_RAW_SCHEMA, plan


@click.command(name="land-parquet")
@schema_options
@click.option("--db", "url", required=True, envvar="SG2DBT_DB",
              help="SQLAlchemy URL of the database `sg2dbt load` filled (duckdb:///raw.duckdb, postgresql+psycopg://...).")
@click.option("--raw-schema", default=DEFAULT_RAW_SCHEMA, show_default=True, envvar="SG2DBT_RAW_SCHEMA",
              help="Database schema of the raw tables.")
@click.option("--out", required=True, type=click.Path(file_okay=False), envvar="SG2DBT_SPARK_RAW_PATH",
              help="Landing folder: one <table>/part-00000.parquet per raw table (SG2DBT_SPARK_RAW_PATH).")
def land_parquet(url: str, raw_schema: str, out: str, **schema_opts: object) -> None:
    """Land the loaded raw tables as Parquet files where Spark reads them.

    `sg2dbt load` into DuckDB (or PostgreSQL), then this, then `dbt build --target spark` with
    SG2DBT_SPARK_RAW_PATH set to the same folder.
    """
    from sg2dbt.core.database import create_engine
    from sg2dbt.loader.parquet import land_parquet as land

    engine = create_engine(url)
    try:
        counts = land(engine, plan(read_schema(**schema_opts)), raw_schema, out)  # type: ignore[arg-type]
    finally:
        engine.dispose()
    click.echo(f"{out}: {len(counts)} tables, {sum(counts.values()):,} rows landed as Parquet", err=True)
