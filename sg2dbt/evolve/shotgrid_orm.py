"""Bring a warehouse built by shotgrid_orm over to sg2dbt's raw layout, keeping every row.

shotgrid_orm names tables after the entity (``Shot``) and columns after the field, calls the ``metadata``
field ``_metadata``, stores dates as text, gives a single-type entity link a foreign key and no ``_type``
column, and a single-type multi-entity link no ``_type`` column. For each entity of the schema whose
shotgrid_orm table exists, in one transaction: the old table is renamed aside, the sg2dbt table is created,
every row is read back as the ``find()`` record it came from and written through the loader's own row
converter (so dates, JSON and links get exactly the values a load would give), the row counts are compared,
and the old table (with its foreign keys) is dropped. Anything the schema does not describe is refused
before anything changes, so no column of data is dropped silently.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from sg2dbt.core.convert import RowConverter
from sg2dbt.core.database import ensure_schema
from sg2dbt.core.errors import MigrationError
from sg2dbt.core.layout import RawLayout, RawTable
from sg2dbt.core.naming import shotgrid_orm_stem
from sg2dbt.core.typemap import Logical, Shape
from sg2dbt.emit.metadata import build_metadata

ASIDE = "_sgorm_old_"   # prefix of the renamed shotgrid_orm table while its rows are copied


@dataclass
class PortReport:
    """What the port did, per entity: ``(shotgrid_orm table, sg2dbt table, rows)``."""

    moved: list[tuple[str, str, int]] = field(default_factory=list)
    foreign_keys: int = 0
    missing: list[str] = field(default_factory=list)   # entities of the schema with no shotgrid_orm table

    def lines(self, raw_schema: str | None, *, dry_run: bool = False) -> list[str]:
        where = f"{raw_schema}." if raw_schema else ""
        move, drop = ("would move", "would drop") if dry_run else ("moved", "dropped")
        out = [f"{move} {old} -> {where}{new} ({rows} rows)" for old, new, rows in self.moved]
        out.append(f"{drop} {self.foreign_keys} foreign key(s) with the old tables")
        if self.missing:
            names = ", ".join(self.missing[:5]) + ("..." if len(self.missing) > 5 else "")
            out.append(f"no shotgrid_orm table for {len(self.missing)} entities ({names}): sg2dbt init-db or load "
                       f"creates them")
        return out


def _source_column(raw_field_name: str, suffix: str) -> str:
    return f"{shotgrid_orm_stem(raw_field_name)}{suffix}"


def _expected_columns(t: RawTable) -> dict[str, tuple[str, ...]]:
    """SG field -> the shotgrid_orm columns it may have (the ``_type`` of a single-type link is optional)."""
    cols: dict[str, tuple[str, ...]] = {}
    for name, rf in t.fields.items():
        if not rf.columns:
            continue
        if rf.shape is Shape.ENTITY:
            cols[name] = (_source_column(name, "_id"), _source_column(name, "_type"))
        elif rf.shape is Shape.MULTI_ENTITY:
            cols[name] = (_source_column(name, "_ids"), _source_column(name, "_type"))
        else:
            cols[name] = ("id",) if name == "id" else (shotgrid_orm_stem(name),)
    return cols


def _record(t: RawTable, row: Mapping[Any, Any]) -> dict[str, Any]:
    """The ``find()`` record a shotgrid_orm row holds, ready for the row converter."""
    rec: dict[str, Any] = {"type": t.entity.name}
    for name, rf in t.fields.items():
        if not rf.columns:
            continue
        valid = list(rf.field.valid_types)
        if rf.shape is Shape.ENTITY:
            link_id = row.get(_source_column(name, "_id"))
            link_type = row.get(_source_column(name, "_type")) or (valid[0] if len(valid) == 1 else None)
            if link_id is not None and link_type is None:
                raise MigrationError(f"{t.entity.name} id {row.get('id')}: field {name!r} links id {link_id} "
                                     f"but no type is stored and the field has {len(valid)} valid types")
            rec[name] = None if link_id is None else {"type": link_type, "id": link_id}
        elif rf.shape is Shape.MULTI_ENTITY:
            ids = [int(i) for i in str(row.get(_source_column(name, "_ids")) or "").split(",") if i.strip()]
            stored = row.get(_source_column(name, "_type"))
            types = stored.split(",") if stored else [valid[0] if len(valid) == 1 else None] * len(ids)
            if len(types) != len(ids) or None in types:
                raise MigrationError(f"{t.entity.name} id {row.get('id')}: field {name!r} holds {len(ids)} ids "
                                     f"and types {stored!r} that do not align")
            rec[name] = [{"type": ty, "id": i} for ty, i in zip(types, ids, strict=True)]
        else:
            value = row.get("id" if name == "id" else shotgrid_orm_stem(name))
            column = rf.columns[0]
            if column.logical is Logical.JSON and isinstance(value, str):
                value = _json_or_text(value)   # shotgrid_orm kept dicts and lists as text
            rec[name] = value
    return rec


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def port(engine: sa.Engine, layout: RawLayout, raw_schema: str | None, *, source_schema: str | None = None,
         dry_run: bool = False) -> PortReport:
    """Move every shotgrid_orm table of ``layout``'s entities (in ``source_schema``) to sg2dbt's raw tables in
    ``raw_schema``, in one transaction; refuse (MigrationError) anything that would lose data."""
    report = PortReport()
    with engine.begin() as conn:
        inspector = sa.inspect(conn)
        present = set(inspector.get_table_names(schema=source_schema))
        plans = []
        for t in layout:
            if t.entity.name not in present:
                report.missing.append(t.entity.name)
                continue
            source = sa.Table(t.entity.name, sa.MetaData(), schema=source_schema, autoload_with=conn, resolve_fks=False)
            expected = {c for cols in _expected_columns(t).values() for c in cols}
            unknown = sorted(set(source.columns.keys()) - expected)
            if unknown:
                raise MigrationError(f"table {t.entity.name}: column(s) {', '.join(unknown)} are not fields of "
                                     f"{t.entity.name} in the schema: port with the schema that built the "
                                     f"warehouse (nothing was changed)")
            report.foreign_keys += len(source.foreign_keys)
            plans.append((t, source))
        if dry_run or not plans:
            report.moved = [(t.entity.name, t.name, _count(conn, s)) for t, s in plans]
            return report
        _drop_foreign_keys(conn, [s for _, s in plans])
        ensure_schema(conn, raw_schema)
        target_md = build_metadata(layout, raw_schema)
        for t, source in plans:
            report.moved.append((t.entity.name, t.name, _move(conn, t, source, target_md.tables[_key(t, raw_schema)])))
    return report


def _key(t: RawTable, raw_schema: str | None) -> str:
    return f"{raw_schema}.{t.name}" if raw_schema else t.name


def _count(conn: sa.Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _drop_foreign_keys(conn: sa.Connection, tables: list[sa.Table]) -> None:
    """shotgrid_orm's foreign keys go first (SG data has dangling links; sg2dbt's raw layer has none). SQLite
    cannot drop a constraint: there they go with the old table, and SQLite does not enforce them by default."""
    if conn.dialect.name == "sqlite":
        return
    for table in tables:
        for fk in table.foreign_key_constraints:
            if fk.name:
                conn.execute(sa.schema.DropConstraint(fk))


def _move(conn: sa.Connection, t: RawTable, source: sa.Table, target: sa.Table) -> int:
    aside = f"{ASIDE}{t.entity.name}"[:63]
    prep = conn.dialect.identifier_preparer
    old = prep.format_table(source)
    conn.execute(sa.text(f"ALTER TABLE {old} RENAME TO {prep.quote(aside)}"))
    renamed = sa.Table(aside, sa.MetaData(), schema=source.schema, autoload_with=conn, resolve_fks=False)
    target.create(conn)
    converter = RowConverter(t, json_as_text=False)
    keys = [c.attr for c in converter.columns]
    moved = 0
    loaded_at = dt.datetime.now(dt.timezone.utc)
    for batch in _batches(conn, renamed):
        rows = [dict(zip(keys, converter.row(_record(t, r), False, loaded_at), strict=True)) for r in batch]
        conn.execute(sa.insert(target), rows)
        moved += len(rows)
    if moved != _count(conn, renamed) or moved != _count(conn, target):
        raise MigrationError(f"table {t.entity.name}: {moved} rows copied but the counts differ; nothing changed")
    renamed.drop(conn)
    return moved


def _batches(conn: sa.Connection, table: sa.Table, size: int = 5000) -> Iterator[Sequence[sa.RowMapping]]:
    result = conn.execute(sa.select(table).order_by(table.c.id)).mappings()
    while batch := result.fetchmany(size):
        yield batch
