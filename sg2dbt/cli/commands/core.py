"""``sg2dbt orm`` and ``sg2dbt ddl``: the ORM module and the raw tables' DDL."""

from __future__ import annotations

import click

from sg2dbt.cli.commands.options import ENV_RAW_SCHEMA, read_schema, schema_options
from sg2dbt.core.layout import DEFAULT_RAW_SCHEMA, plan
from sg2dbt.core.output import write_text
from sg2dbt.emit.ddl import DIALECTS, create_statements
from sg2dbt.emit.metadata import build_metadata
from sg2dbt.emit.script import write_script


@click.command()
@schema_options
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Where to write the module.")
def orm(out: str, **schema_opts: object) -> None:
    """Write a standalone SQLAlchemy module: Base, one class per entity, CLASSES."""
    layout = plan(read_schema(**schema_opts))  # type: ignore[arg-type]
    path = write_script(layout, out)
    click.echo(f"wrote {path} ({len(layout.tables)} classes)", err=True)


@click.command()
@schema_options
@click.option("--dialect", type=click.Choice(DIALECTS), default="postgresql", show_default=True)
@click.option("--raw-schema", "--db-schema", envvar=ENV_RAW_SCHEMA, show_envvar=True,
              help=f"Database schema of the raw tables ('' for none) [default: {DEFAULT_RAW_SCHEMA}, none on sqlite, "
                   f"which has no schemas].")
@click.option("--out", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
def ddl(dialect: str, raw_schema: str | None, out: str | None, **schema_opts: object) -> None:
    """Print CREATE TABLE statements for the raw tables, compiled by SQLAlchemy."""
    if raw_schema is None:
        raw_schema = "" if dialect == "sqlite" else DEFAULT_RAW_SCHEMA
    layout = plan(read_schema(**schema_opts))  # type: ignore[arg-type]
    text = create_statements(build_metadata(layout, raw_schema or None), dialect)
    if out:
        write_text(out, text)
    else:
        click.echo(text, nl=False)
