"""``sg2dbt orm`` and ``sg2dbt ddl``: the ORM module and the raw tables' DDL."""

from __future__ import annotations

import click

from sg2dbt.cli.commands.options import ENV_RAW_SCHEMA, read_schema, schema_options
from sg2dbt.core.errors import Sg2dbtError
from sg2dbt.core.layout import DEFAULT_RAW_SCHEMA, plan
from sg2dbt.core.output import GENERATED_MARK, write_generated
from sg2dbt.emit.ddl import DIALECTS, create_statements, too_wide_tables
from sg2dbt.emit.metadata import build_metadata
from sg2dbt.emit.script import render_script

FORCE = click.option("--force", is_flag=True, help="Replace --out even if sg2dbt did not write it.")


@click.command()
@schema_options
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Where to write the module.")
@FORCE
def orm(out: str, force: bool, **schema_opts: object) -> None:
    """Write a standalone SQLAlchemy module: Base, one class per entity, CLASSES."""
    layout = plan(read_schema(**schema_opts))  # type: ignore[arg-type]
    path = write_generated(out, render_script(layout), force=force)
    click.echo(f"wrote {path} ({len(layout.tables)} classes)", err=True)


@click.command()
@schema_options
@click.option("--dialect", type=click.Choice(DIALECTS), default="postgresql", show_default=True)
@click.option("--db-schema", "raw_schema", hidden=True, help="The former name of --raw-schema.")
@click.option("--raw-schema", envvar=ENV_RAW_SCHEMA, show_envvar=True,
              help=f"Database schema of the raw tables ('' for none) [default: {DEFAULT_RAW_SCHEMA}, none on sqlite, "
                   f"which has no schemas].")
@click.option("--out", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
@FORCE
def ddl(dialect: str, raw_schema: str | None, out: str | None, force: bool, **schema_opts: object) -> None:
    """Print CREATE TABLE statements for the raw tables, compiled by SQLAlchemy."""
    if raw_schema is None:
        raw_schema = "" if dialect == "sqlite" else DEFAULT_RAW_SCHEMA
    layout = plan(read_schema(**schema_opts))  # type: ignore[arg-type]
    metadata = build_metadata(layout, raw_schema or None)
    text = create_statements(metadata, dialect)
    if out:
        write_generated(out, f"-- Raw tables of a ShotGrid schema ({dialect}), {GENERATED_MARK} ddl.\n{text}",
                        force=force)
    else:
        click.echo(text, nl=False)
    wide = too_wide_tables(metadata, dialect)   # left out of the script: fail after printing the rest
    for why in wide[1:]:
        click.echo(f"sg2dbt: error: {why}", err=True)
    if wide:
        raise Sg2dbtError(wide[0])
