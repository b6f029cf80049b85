"""Bring a database's raw tables in line with a schema, through Alembic.

The target is always ``build_metadata(plan(schema), raw_schema)``: the same tables ``sg2dbt ddl`` prints.
Alembic's autogenerate comparison (``produce_migrations``) finds what differs, each difference becomes a
:class:`Change`, and the changes are applied with Alembic's :class:`~alembic.operations.Operations`:

* *additive* changes (a new table, a new column) never lose data and are applied;
* *destructive* ones (a dropped table or column, a changed column type) are refused unless the caller
  allows them, because the raw tables may hold history that SG no longer serves (retired records).

What the comparison may look at is narrowed by :func:`context_options` (also used by the ``env.py`` of an
environment made by ``sg2dbt migrate init``): only the raw schema, only tables that carry the loader's
bookkeeping columns (so a user's own table in that schema is never dropped), never the loader's own
``_sg2dbt*`` state tables, and never indexes or constraints that sg2dbt does not declare.

DuckDB: Alembic has no DuckDB dialect and duckdb_engine's column reflection fails under SQLAlchemy 2.1
(it queries ``pg_catalog.pg_collation``). A minimal Alembic implementation is registered for DuckDB below so
that operations run, and on DuckDB the comparison reads ``information_schema`` itself
(:func:`catalog_operations`) and produces the same Alembic operation objects.

The loader's drift check runs before every load, where Alembic's full reflection (1-2 s for 77 tables on
PostgreSQL, mostly Python) is too slow to pay each time: it first asks ``information_schema`` in one query
(:func:`catalog_operations`, PostgreSQL and DuckDB) and runs Alembic's comparison only when that finds a
difference, so that what it reports is always what ``sg2dbt migrate`` will do.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sg2dbt.core.database import ensure_schema, raw_schema_for
from sg2dbt.core.dialects import capabilities
from sg2dbt.core.errors import DriftError, MigrationError, first_line
from sg2dbt.core.layout import LOADED_AT_COLUMN, RETIRED_COLUMN, RawLayout, plan
from sg2dbt.core.model import Schema
from sg2dbt.emit.metadata import build_metadata
from sg2dbt.evolve.diff import DESTRUCTIVE_OPERATIONS

if TYPE_CHECKING:
    from alembic.operations import Operations
    from alembic.operations import ops as alembic_ops

log = logging.getLogger(__name__)

STATE_TABLE_PREFIX = "_sg2dbt"   # the loader's sync state (and any other sg2dbt bookkeeping table)
BOOKKEEPING_COLUMNS = frozenset({RETIRED_COLUMN, LOADED_AT_COLUMN})


class _CatalogTypeName(sa.types.UserDefinedType[Any]):
    """A type known only by the name ``information_schema`` gives it (for messages)."""

    cache_ok = True

    def __init__(self, name: str) -> None:
        self.name = name

    def get_col_spec(self, **kw: Any) -> str:
        return self.name


def _ops() -> Any:
    """Alembic's operations, imported on first use: the drift check before every load needs them only when it
    finds drift, and importing Alembic (Mako and Pygments with it) took ~0.1 s of each ``sg2dbt load``."""
    from alembic.operations import ops

    return ops


@functools.cache
def _register_duckdb() -> None:
    """Register DuckDB with Alembic (subclassing is the registration); DuckDB runs DDL in transactions."""
    from alembic.ddl.impl import DefaultImpl

    class DuckDBImpl(DefaultImpl):
        __dialect__ = "duckdb"
        transactional_ddl = True


def target_metadata(schema: Schema, raw_schema: str | None) -> sa.MetaData:
    """The raw tables a schema asks for: what every comparison here compares against."""
    return build_metadata(plan(schema), raw_schema)


def is_raw_table(name: str, columns: Iterable[str]) -> bool:
    """A table sg2dbt made: it has the bookkeeping columns and is not one of the loader's state tables.

    Only such a table may be dropped: the raw schema can also hold a user's own tables.
    """
    return not name.startswith(STATE_TABLE_PREFIX) and set(columns) >= BOOKKEEPING_COLUMNS


def context_options(raw_schema: str | None) -> dict[str, Any]:
    """Options for ``MigrationContext.configure`` / ``context.configure`` that keep Alembic on our tables."""
    _register_duckdb()   # every Alembic context of sg2dbt is configured with these options

    def include_name(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
        if type_ == "schema":
            return name == raw_schema
        if type_ == "table":
            return name is not None and not name.startswith(STATE_TABLE_PREFIX)
        return True

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and reflected and compare_to is None:
            return is_raw_table(obj.name, obj.c.keys())     # only drop tables that sg2dbt created
        # Indexes and constraints the loader or a user added are not drift.
        return not (type_ in ("index", "unique_constraint", "foreign_key_constraint") and compare_to is None)

    return {
        "compare_type": True,
        "compare_server_default": False,
        "include_schemas": raw_schema is not None,
        "include_name": include_name,
        "include_object": include_object,
        "version_table_schema": raw_schema,
    }


@dataclass(frozen=True)
class Change:
    """One Alembic operation on one raw table, with what a user reads about it."""

    op: alembic_ops.MigrateOperation
    table: str
    description: str
    kind: str            # create_table, add_column, drop_table, drop_column, alter_type

    @property
    def destructive(self) -> bool:
        return self.kind in DESTRUCTIVE_OPERATIONS

    @property
    def blocks_load(self) -> bool:
        """A load cannot run before this is applied: its rows have nowhere (or no fitting type) to go.

        A table or column the schema no longer has does not block: the loader never writes it.
        """
        return self.kind in ("create_table", "add_column", "alter_type")


def _qualified(schema: str | None, table: str, column: str | None = None) -> str:
    return ".".join(p for p in (schema, table, column) if p)


def _type_name(type_: Any, dialect: sa.Dialect) -> str:
    try:
        return str(type_.compile(dialect=dialect))
    except (sa.exc.CompileError, NotImplementedError):  # a reflected type this dialect cannot spell
        return repr(type_)


def classify(op: alembic_ops.MigrateOperation, dialect: sa.Dialect) -> Change | None:
    """Our view of one Alembic operation; ``None`` for differences that are not ours to fix."""
    alembic_ops = _ops()
    if isinstance(op, alembic_ops.CreateTableOp):
        name = _qualified(op.schema, op.table_name)
        columns = sum(1 for c in op.columns if isinstance(c, sa.Column))
        return Change(op, name, f"create table {name} ({columns} columns)", "create_table")
    if isinstance(op, alembic_ops.DropTableOp):
        name = _qualified(op.schema, op.table_name)
        return Change(op, name, f"drop table {name}", "drop_table")
    if isinstance(op, alembic_ops.AddColumnOp):
        name = _qualified(op.schema, op.table_name)
        return Change(op, name, f"add column {name}.{op.column.name} {_type_name(op.column.type, dialect)}",
                      "add_column")
    if isinstance(op, alembic_ops.DropColumnOp):
        name = _qualified(op.schema, op.table_name)
        return Change(op, name, f"drop column {name}.{op.column_name}", "drop_column")
    if isinstance(op, alembic_ops.AlterColumnOp) and op.modify_type is not None:
        name = _qualified(op.schema, op.table_name)
        old, new = _type_name(op.existing_type, dialect), _type_name(op.modify_type, dialect)
        return Change(op, name, f"change type of {name}.{op.column_name} from {old} to {new}", "alter_type")
    log.debug("ignoring %r: sg2dbt only adds, drops and retypes tables and columns", op)
    return None


def flatten(ops: Iterable[alembic_ops.MigrateOperation]) -> Iterator[alembic_ops.MigrateOperation]:
    """Table and column operations, out of Alembic's per-table ``ModifyTableOps`` groups."""
    alembic_ops = _ops()
    for op in ops:
        if isinstance(op, alembic_ops.ModifyTableOps):
            yield from flatten(op.ops)
        else:
            yield op


# How each catalog spells a type, asked of the database itself (TEXT -> VARCHAR on DuckDB, JSON -> jsonb ...).
_TYPE_OF = {"duckdb": "select typeof(cast(null as {}))", "postgresql": "select pg_typeof(cast(null as {}))::text"}


def catalog_operations(connection: sa.Connection, metadata: sa.MetaData,
                       raw_schema: str | None) -> list[alembic_ops.MigrateOperation]:
    """The operations Alembic's comparison would produce, from ``information_schema`` (PostgreSQL, DuckDB)."""
    db_schema = raw_schema or capabilities(connection.dialect).default_schema
    rows = connection.execute(sa.text(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = :s and table_catalog = current_database() order by table_name, ordinal_position"
    ), {"s": db_schema}).all()
    existing: dict[str, dict[str, str]] = {}
    for table_name, column_name, data_type in rows:
        existing.setdefault(str(table_name), {})[str(column_name)] = str(data_type)
    views = {r[0] for r in connection.execute(sa.text(
        "select table_name from information_schema.tables where table_schema = :s and table_type = 'VIEW'"
    ), {"s": db_schema})}

    spelled: dict[str, str] = {}

    def catalog_type(type_: Any) -> str:
        compiled = _type_name(type_, connection.dialect)
        if compiled not in spelled:
            query = _TYPE_OF[connection.dialect.name].format(compiled)
            spelled[compiled] = str(connection.execute(sa.text(query)).scalar_one())
        return spelled[compiled]

    out: list[alembic_ops.MigrateOperation] = []
    for table in metadata.sorted_tables:
        have = existing.get(table.name)
        if have is None:
            out.append(_ops().CreateTableOp.from_table(table))
            continue
        for column in table.columns:
            if column.name not in have:
                out.append(_ops().AddColumnOp.from_column_and_tablename(
                    raw_schema, table.name, column._copy()))
            elif have[column.name].lower() != catalog_type(column.type).lower():
                out.append(_ops().AlterColumnOp(
                    table.name, column.name, schema=raw_schema, existing_type=_CatalogTypeName(have[column.name]),
                    modify_type=column.type))
        out += [_ops().DropColumnOp(table.name, name, schema=raw_schema)
                for name in have if name not in table.c]
    known = {t.name for t in metadata.tables.values()}
    for name, columns in sorted(existing.items()):
        if name not in known and name not in views and name != "alembic_version" and is_raw_table(name, columns):
            out.append(_ops().DropTableOp(name, schema=raw_schema))
    return out


def compare(connection: sa.Connection, metadata: sa.MetaData, raw_schema: str | None) -> list[Change]:
    """What it takes to turn the database's raw tables into ``metadata``; nothing is changed."""
    if connection.dialect.name == "duckdb":
        operations = catalog_operations(connection, metadata, raw_schema)
    else:
        from alembic.autogenerate import produce_migrations
        from alembic.migration import MigrationContext

        context = MigrationContext.configure(connection, opts=context_options(raw_schema))
        operations = list(produce_migrations(context, metadata).upgrade_ops.ops)  # type: ignore[union-attr]
    if not operations:
        return []   # no drift: Alembic's operations are not even imported
    changes = (classify(op, connection.dialect) for op in flatten(operations))
    return [c for c in changes if c is not None]


def _dependent_views(connection: sa.Connection, change: Change) -> list[str]:
    """PostgreSQL views (dbt's staging models) that would block dropping or retyping this column/table."""
    if connection.dialect.name != "postgresql":
        return []
    alembic_ops = _ops()
    op = change.op
    schema = getattr(op, "schema", None) or connection.dialect.default_schema_name
    params = {"s": schema, "t": op.table_name}  # type: ignore[attr-defined]
    if isinstance(op, alembic_ops.DropTableOp):
        sql = ("select distinct view_schema, view_name from information_schema.view_table_usage "
               "where table_schema = :s and table_name = :t")
    else:
        sql = ("select distinct view_schema, view_name from information_schema.view_column_usage "
               "where table_schema = :s and table_name = :t and column_name = :c")
        params["c"] = op.column_name  # type: ignore[attr-defined]
    return [f'"{s}"."{v}"' for s, v in connection.execute(sa.text(sql), params)]


def strip_autoincrement(op: alembic_ops.MigrateOperation) -> None:
    """Autogenerate writes ``autoincrement=False`` into alter_column for MySQL's sake; other dialects warn."""
    alembic_ops = _ops()
    if isinstance(op, alembic_ops.AlterColumnOp):
        op.kw.pop("autoincrement", None)


def _invoke(operations: Operations, connection: sa.Connection, change: Change) -> None:
    alembic_ops = _ops()
    op = change.op
    if connection.dialect.name != "mysql":
        strip_autoincrement(op)
    if isinstance(op, alembic_ops.AlterColumnOp) and connection.dialect.name == "postgresql":
        column = connection.dialect.identifier_preparer.quote(op.column_name)
        op.kw["postgresql_using"] = f"{column}::{_type_name(op.modify_type, connection.dialect)}"
    if isinstance(op, alembic_ops.AlterColumnOp) and connection.dialect.name == "sqlite":
        with operations.batch_alter_table(op.table_name, schema=op.schema) as batch:
            batch.alter_column(op.column_name, type_=op.modify_type)
        return
    operations.invoke(op)


@dataclass
class MigrationReport:
    """What a migration did (or, in a dry run, would do) and what it refused."""

    applied: list[Change] = field(default_factory=list)
    refused: list[Change] = field(default_factory=list)
    dropped_views: list[str] = field(default_factory=list)

    def lines(self, *, dry_run: bool = False) -> list[str]:
        verb = "would " if dry_run else ""
        out = [f"{verb}{c.description}" for c in self.applied]
        out += [f"{verb}drop view {v} (depends on a changed column; `dbt build` recreates it)"
                for v in self.dropped_views]
        return out


def refused_message(refused: list[Change]) -> str:
    """The one error a refused migration prints: every refused change, and how to allow them."""
    items = "; ".join(c.description for c in refused)
    return (f"refused {len(refused)} destructive change(s): {items}. These lose data in the raw tables "
            f"(SG may no longer serve it: retired records, removed fields). Re-run with --allow-destructive "
            f"to apply them")


def migrate(engine: sa.Engine, metadata: sa.MetaData, raw_schema: str | None, *,
            allow_destructive: bool = False, dry_run: bool = False,
            allow: Callable[[Change], bool] | None = None) -> MigrationReport:
    """Apply the additive changes (and the destructive ones if allowed) in one transaction.

    ``allow``, when given, decides change by change instead (``sg2dbt sync`` applies drops by its policy but
    never a type change). Refused changes are reported, never half-applied; the caller decides whether that
    is an error (the CLI makes it one). On PostgreSQL, views that depend on a dropped or retyped column are
    dropped with it when destructive changes are allowed (dbt's staging views; ``dbt build`` recreates them).
    """
    report = MigrationReport()
    if allow is None:
        def allow(change: Change) -> bool:
            return allow_destructive or not change.destructive
    with engine.begin() as connection:
        if not dry_run:
            ensure_schema(connection, raw_schema)
        changes = compare(connection, metadata, raw_schema)
        for change in changes:
            (report.applied if allow(change) else report.refused).append(change)
        views = sorted({v for c in report.applied if c.destructive for v in _dependent_views(connection, c)})
        report.dropped_views = views
        if dry_run:
            return report
        from alembic.migration import MigrationContext
        from alembic.operations import Operations

        operations = Operations(MigrationContext.configure(connection, opts=context_options(raw_schema)))
        for view in views:
            connection.execute(sa.text(f"drop view if exists {view} cascade"))
        for change in report.applied:
            try:
                _invoke(operations, connection, change)
            except sa.exc.DBAPIError as exc:
                first = first_line(exc.orig if exc.orig is not None else exc)
                raise MigrationError(f"{change.description} failed: {first}; nothing was changed") from exc
    return report


def migrate_schema(engine: sa.Engine, schema: Schema, raw_schema: str | None,
                   **kwargs: Any) -> MigrationReport:
    """:func:`migrate` to the raw tables of ``schema``."""
    raw_schema = raw_schema_for(engine, raw_schema)
    return migrate(engine, target_metadata(schema, raw_schema), raw_schema, **kwargs)


def drift(layout: RawLayout, engine: sa.Engine, raw_schema: str | None) -> list[Change]:
    """Differences between the layout's raw tables and the database that would break or skew a load."""
    metadata = build_metadata(layout, raw_schema)
    with engine.connect() as connection:
        # The catalog pre-check spares PostgreSQL Alembic's slow reflection; on DuckDB compare() already is it.
        if connection.dialect.name == "postgresql" and not catalog_operations(connection, metadata, raw_schema):
            return []
        return compare(connection, metadata, raw_schema)


def _fix_command(raw_schema: str | None, destructive: bool) -> str:
    """The ``sg2dbt migrate`` command line that brings the raw tables in line (the drift error names it)."""
    where = f" --raw-schema {raw_schema}" if raw_schema else ""
    return f"sg2dbt migrate --schema <schema file> --db <url>{where}{' --allow-destructive' if destructive else ''}"


def require_no_drift(layout: RawLayout, engine: sa.Engine, raw_schema: str | None) -> None:
    """Raise :class:`DriftError` when the database cannot take a load of ``layout``.

    ``sg2dbt load`` runs this before loading (through the loader's ``check`` hook), so that a schema that
    gained fields (or changed a type) since the last migration is reported as such, naming the command that
    fixes it, instead of surfacing as a database error halfway through a load.

    Only changes that block a load count (:attr:`Change.blocks_load`); leftovers of removed fields do not.
    """
    blocking = [c for c in drift(layout, engine, raw_schema) if c.blocks_load]
    if blocking:
        fix = _fix_command(raw_schema, any(c.destructive for c in blocking))
        raise DriftError(f"the database does not match the schema: "
                         f"{'; '.join(c.description for c in blocking)}. Run `{fix}` first")
