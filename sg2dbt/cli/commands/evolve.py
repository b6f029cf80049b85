"""``sg2dbt diff`` (what changed between two schemas) and ``sg2dbt migrate`` (bring the raw tables up to date)."""

from __future__ import annotations

import json
from typing import Any

import click

from sg2dbt.cli.commands.options import (
    ENV_DB,
    F,
    raw_schema_option,
    read_schema,
    schema_options,
    site_credentials,
    site_options,
)
from sg2dbt.core.model import Schema


@click.command()
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", required=False, type=click.Path(dir_okay=False))
@site_options
@click.option("--entity-schema", "entity_schema_paths", multiple=True, type=click.Path(dir_okay=False),
              help="schema_entity_read() JSON for a raw schema_read() file: give it once per side, OLD first.")
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON instead of words.")
@click.option("--exit-code", is_flag=True, help="Exit with status 1 when the schemas differ (as git diff does).")
def diff(old: str, new: str | None, entity_schema_paths: tuple[str, ...], as_json: bool, exit_code: bool,
         **site: Any) -> None:
    """What changed from schema file OLD to schema file NEW (or, without NEW, the live site), and what it
    means for the raw tables.

    Renames show up as a removal plus an addition: SG identifies fields and entities by API name only.
    """
    from sg2dbt.evolve.diff import diff as compute
    from sg2dbt.schema import sources

    if len(entity_schema_paths) not in (0, 2):
        raise click.UsageError("give --entity-schema twice (OLD's, then NEW's) or not at all")
    old_entities, new_entities = entity_schema_paths or (None, None)
    old_schema = sources.from_path(old, old_entities)
    result = compute(old_schema, sources.from_path(new, new_entities) if new else _site_schema(site))
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        for line in result.describe() or [f"no changes between {old} and {result.new_source}"]:
            click.echo(line)
        if result.destructive:
            click.echo(f"{len(result.destructive)} raw-column change(s) are destructive: `sg2dbt migrate` "
                       f"refuses them without --allow-destructive", err=True)
    if exit_code and result:
        raise click.exceptions.Exit(1)


def _site_schema(site: dict[str, Any]) -> Schema:
    """The live site's schema (two calls: schema_read and schema_entity_read); credentials as `sg2dbt load`."""
    from sg2dbt.core.errors import Sg2dbtError
    from sg2dbt.core.secrets import redacted_first_line
    from sg2dbt.schema import sources
    from sg2dbt.schema.connect import CredentialsError, connect

    creds = site_credentials(**site)
    try:
        return sources.from_connection(connect(creds), source=creds.label)
    except Sg2dbtError:
        raise
    except Exception as exc:  # noqa: BLE001 - any site failure is reported the same way, without secrets
        raise CredentialsError(f"{creds.label}: cannot read the schema: {type(exc).__name__}: "
                               f"{redacted_first_line(exc)}") from None


def _schema_optional(func: F) -> F:
    """The shared schema options, with --schema checked by `migrate` itself: `migrate init` has its own."""
    func = schema_options(func)
    for param in func.__click_params__:  # type: ignore[attr-defined]
        if param.name == "schema_path":
            param.required = False
    return func


def _db_options(func: F) -> F:
    """--db and --raw-schema, checked by the command itself: `migrate` needs --db only without a subcommand."""
    func = raw_schema_option(func)
    return click.option("--db", "url", envvar=ENV_DB, show_envvar=True,
                        help="SQLAlchemy URL of the warehouse: postgresql://..., duckdb:///path, sqlite:///path.")(func)


@click.group(invoke_without_command=True)
@_schema_optional
@_db_options
@click.option("--allow-destructive", is_flag=True,
              help="Also drop tables/columns the schema no longer has and change column types.")
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@click.option("--from-shotgrid-orm", "from_sgorm", is_flag=True,
              help="Port a warehouse built by shotgrid_orm (tables named after entities) to sg2dbt's raw tables, "
                   "keeping every row; --schema is the schema that built it.")
@click.option("--source-schema", default=None,
              help="With --from-shotgrid-orm: the database schema holding shotgrid_orm's tables (default: the "
                   "connection's default).")
@click.pass_context
def migrate(ctx: click.Context, url: str | None, raw_schema: str, allow_destructive: bool, dry_run: bool,
            from_sgorm: bool, source_schema: str | None, **schema_opts: Any) -> None:
    """Bring the raw tables in line with a schema (new tables and columns), through Alembic.

    Destructive changes (drops, type changes) are refused unless --allow-destructive is given; additive
    ones are applied either way. `sg2dbt migrate init` makes an Alembic environment instead, for
    `alembic revision --autogenerate` and `alembic upgrade head`.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not schema_opts.get("schema_path") or not url:
        raise click.UsageError("migrate needs --schema FILE and --db URL (or SG2DBT_SCHEMA_FILE and SG2DBT_DB, or "
                               "schema_file and warehouse.url in sg2dbt.yml), or a subcommand: init")
    import sqlalchemy as sa

    from sg2dbt.core.database import create_engine
    from sg2dbt.core.errors import MigrationError
    from sg2dbt.core.secrets import display_database_url, redacted_first_line
    from sg2dbt.evolve.migrate import migrate_schema, refused_message

    engine = create_engine(url)
    if from_sgorm:
        try:
            _port_shotgrid_orm(engine, read_schema(**schema_opts), raw_schema or None, source_schema, dry_run)
        finally:
            engine.dispose()
        return
    schema = read_schema(**schema_opts)
    try:
        report = migrate_schema(engine, schema, raw_schema or None, allow_destructive=allow_destructive,
                                dry_run=dry_run)
    except sa.exc.SQLAlchemyError as exc:   # unreachable or missing database, refused statement
        raise MigrationError(f"cannot migrate the raw tables in {display_database_url(engine.url)}: "
                             f"{redacted_first_line(getattr(exc, 'orig', None) or exc)}") from None
    finally:
        engine.dispose()
    lines = report.lines(dry_run=dry_run)
    for line in lines or ([] if report.refused else ["raw tables already match the schema"]):
        click.echo(line)
    if report.refused:
        raise MigrationError(refused_message(report.refused))


def _port_shotgrid_orm(engine: Any, schema: Schema, raw_schema: str | None, source_schema: str | None,
                       dry_run: bool) -> None:
    from sg2dbt.core.layout import plan
    from sg2dbt.evolve.shotgrid_orm import port

    report = port(engine, plan(schema), raw_schema, source_schema=source_schema, dry_run=dry_run)
    for line in report.lines(raw_schema, dry_run=dry_run):
        click.echo(line)


@migrate.command()
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False),
              help="Directory for the Alembic environment (alembic.ini, env.py, versions/).")
@schema_options
@_db_options
def init(directory: str, url: str | None, raw_schema: str, schema_path: str, entity_schema_path: str | None,
         only: tuple[str, ...], ignore: tuple[str, ...], ignore_field: tuple[str, ...]) -> None:
    """Make an Alembic environment whose target metadata is built from the schema file."""
    from sg2dbt.evolve.environment import INI_NAME, init_environment

    if not url:
        raise click.UsageError("migrate init needs --db URL (or SG2DBT_DB, or warehouse.url in sg2dbt.yml)")
    read_schema(schema_path, entity_schema_path, only, ignore, ignore_field)   # refuse a bad schema now
    written = init_environment(directory, schema_path=schema_path, url=url, raw_schema=raw_schema or None,
                               entity_schema_path=entity_schema_path, only=only, ignore=ignore,
                               ignore_fields=ignore_field)
    for path in written:
        click.echo(f"wrote {path}", err=True)
    ini = f"{directory}/{INI_NAME}"
    click.echo(f"next: alembic -c {ini} revision --autogenerate -m 'raw tables' && "
               f"alembic -c {ini} upgrade head", err=True)
