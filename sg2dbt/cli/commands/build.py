"""``sg2dbt build`` (scaffold or refresh a dbt project) and ``sg2dbt init-db`` (create its raw tables)."""

from __future__ import annotations

import functools
from pathlib import Path

import click

from sg2dbt.cli.commands.options import NeededOption, db_option, raw_schema_option, read_schema, schema_options
from sg2dbt.core.errors import ProjectError, Sg2dbtError
from sg2dbt.core.layout import plan
from sg2dbt.emit.ddl import too_wide_tables
from sg2dbt.emit.metadata import build_metadata
from sg2dbt.emit.project import (
    ADAPTERS,
    BRIDGE_MATERIALIZATIONS,
    MANIFEST,
    ProjectOptions,
    build_project,
    create_raw_tables,
)
from sg2dbt.emit.project.render import RAW_DDL
from sg2dbt.emit.rawdb import TOO_WIDE


@click.command()
@schema_options
@click.option("--out", cls=NeededOption, config_key="dbt.project_dir", envvar="SG2DBT_PROJECT_DIR",
              type=click.Path(file_okay=False), help="dbt project directory (created or refreshed).")
@click.option("--adapter", type=click.Choice(ADAPTERS), default="duckdb", show_default=True,
              help="Default dbt target; both targets are always in profiles.yml.")
@click.option("--source-name", default="shotgrid", show_default=True, help="dbt source name (model prefix).")
@functools.partial(raw_schema_option, help="Database schema holding the raw tables (SG2DBT_RAW_SCHEMA also "
                                          "overrides it at dbt run time).")
@click.option("--project-name", default="shotgrid_analytics", show_default=True, help="dbt project and profile name.")
@click.option("--name-by-display", is_flag=True,
              help="Name staging models by the entities' display names (CustomEntity01 shown as 'Episode').")
@click.option("--db-path", type=click.Path(dir_okay=False),
              help="DuckDB file for the duckdb target (default: <out>/<project-name>.duckdb), written absolute.")
@click.option("--force", is_flag=True, help="Write into a non-empty directory that is not an sg2dbt project.")
@click.option("--bridges", type=click.Choice(BRIDGE_MATERIALIZATIONS), default="table", show_default=True,
              help="Materialisation of the bridge models (a view splits the id lists on every query).")
def build(out: str, adapter: str, source_name: str, raw_schema: str, project_name: str, name_by_display: bool,
          db_path: str | None, force: bool, bridges: str, **schema_opts: object) -> None:
    """Scaffold or refresh a dbt project: sources, staging and bridge models, tests, macros, raw DDL."""
    if not force:
        _refuse_foreign_directory(Path(out))
    options = ProjectOptions(adapter=adapter, source_name=source_name, raw_schema=raw_schema,
                             project_name=project_name, name_by_display=name_by_display,
                             db_path=Path(db_path) if db_path else None, bridges=bridges)
    schema = read_schema(**schema_opts)  # type: ignore[arg-type]
    report = build_project(schema, out, options)
    if options.adapter != "spark":   # an entity the target cannot hold: the project is fine, its raw DDL lacks it
        for why in too_wide_tables(build_metadata(plan(schema), options.raw_schema), options.dialect):
            click.echo(f"sg2dbt: warning: {why} (left out of {RAW_DDL})", err=True)
    for rel in report.kept_edited:
        click.echo(f"kept {rel}: edited since sg2dbt generated it (delete it to regenerate)", err=True)
    click.echo(f"{out}: {len(report.written)} written, {len(report.unchanged)} unchanged, "
               f"{len(report.removed)} removed, {len(report.kept_edited)} kept as edited", err=True)


def _refuse_foreign_directory(out: Path) -> None:
    """``build --out /`` or ``--out ~/Documents``: a directory holding other files and no sg2dbt project is
    refused (the project would be scattered among them, and a refresh later prunes what it wrote there)."""
    if not out.is_dir() or (out / MANIFEST).is_file():
        return
    try:
        others = sorted(p.name for p in out.iterdir())
    except OSError as exc:
        raise ProjectError(f"{out}: cannot read the directory: {exc.strerror}") from None
    if others:
        shown = ", ".join(others[:5]) + (f" (+{len(others) - 5} more)" if len(others) > 5 else "")
        raise ProjectError(f"{out}: not empty and not an sg2dbt project (it holds {shown}); build into a new or "
                           f"empty directory, or pass --force to write beside those files")


@click.command(name="init-db")
@schema_options
@db_option
@raw_schema_option
def init_db(url: str, raw_schema: str, **schema_opts: object) -> None:
    """Create the raw tables (and their schema) on a database; existing tables are left alone."""
    metadata = create_raw_tables(plan(read_schema(**schema_opts)), url, raw_schema)  # type: ignore[arg-type]
    wide = sorted(metadata.info[TOO_WIDE].values())
    click.echo(f"raw tables ready: {len(metadata.tables) - len(wide)} in schema {raw_schema}", err=True)
    for why in wide[1:]:
        click.echo(f"sg2dbt: error: {why}", err=True)
    if wide:
        raise Sg2dbtError(wide[0])
