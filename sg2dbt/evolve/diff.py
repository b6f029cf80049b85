"""What changed between two schemas: entities, fields, and what that means for the raw tables.

SG has no rename: a renamed field or entity is a new API name, so it shows up here as one removal plus one
addition (the display name is the only thing SG lets users rename in place, and that is a change).

Raw-layer consequences are never derived here: both schemas go through :func:`sg2dbt.core.layout.plan` and the
resulting tables are compared column by column. That also catches columns of an *unchanged* field that
moved because a new field took their name (the layout's collision rule), which a field-level comparison
alone would miss.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sg2dbt.core.layout import RawColumn, RawLayout, RawTable, plan
from sg2dbt.core.model import Entity, Field, Schema

# Field properties whose change is reported, in report order. Each one changes some generated output:
# storage (data_type, summary_default), staging link keys (valid_types), tests (valid_values), docs.
FIELD_PROPERTIES = (
    "data_type", "summary_default", "valid_types", "valid_values", "display_name", "description",
)


# The raw-table operations that lose data: `migrate` refuses them without --allow-destructive, and `diff`
# counts a column change as destructive when bringing a database in line takes one of them. One list for both.
DESTRUCTIVE_OPERATIONS = frozenset({"drop_table", "drop_column", "alter_type"})


class Kind(enum.Enum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"

    @property
    def sign(self) -> str:
        """The mark that starts an entity or field line of the report, as in a unified diff."""
        return {Kind.ADDED: "+", Kind.REMOVED: "-", Kind.CHANGED: "~"}[self]


@dataclass(frozen=True)
class ColumnChange:
    """One raw column appearing, disappearing, or changing its logical type."""

    table: str
    column: str
    kind: Kind
    old_type: str | None = None
    new_type: str | None = None
    old_field: str | None = None     # SG field the column held, when it now holds another one's values
    new_field: str | None = None

    @property
    def operation(self) -> str | None:
        """The migration operation that brings a database in line with this change.

        A column that changed hands keeps its type: no migration touches it, the next full load rewrites it.
        """
        if self.kind is Kind.ADDED:
            return "add_column"
        if self.kind is Kind.REMOVED:
            return "drop_column"
        return "alter_type" if self.old_type != self.new_type else None

    @property
    def destructive(self) -> bool:
        """Whether bringing a database in line loses data (a drop, or a type change that may not cast)."""
        return self.operation in DESTRUCTIVE_OPERATIONS

    def describe(self) -> str:
        if self.kind is Kind.ADDED:
            return f"column {self.table}.{self.column} {self.new_type} added"
        if self.kind is Kind.REMOVED:
            return f"column {self.table}.{self.column} {self.old_type} removed"
        if self.old_type == self.new_type:
            return (f"column {self.table}.{self.column} now holds field {self.new_field!r} "
                    f"(was {self.old_field!r})")
        return f"column {self.table}.{self.column} retyped {self.old_type} -> {self.new_type}"

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "column": self.column, "change": self.kind.value,
                "old_type": self.old_type, "new_type": self.new_type,
                "old_field": self.old_field, "new_field": self.new_field}


@dataclass(frozen=True)
class PropertyChange:
    name: str
    old: Any
    new: Any

    def describe(self) -> str:
        return f"{self.name.replace('_', ' ')} {_show(self.old)} -> {_show(self.new)}"

    def to_dict(self) -> dict[str, Any]:
        return {"property": self.name, "old": _jsonable(self.old), "new": _jsonable(self.new)}


@dataclass(frozen=True)
class FieldChange:
    entity: str
    field: str
    kind: Kind
    data_type: str                                   # the new one, or the old one for a removed field
    properties: tuple[PropertyChange, ...] = ()
    columns: tuple[ColumnChange, ...] = ()

    def describe(self) -> str:
        what = [p.describe() for p in self.properties] or (
            [f"{self.kind.value} ({self.data_type})"] if self.kind is not Kind.CHANGED else ["columns moved"])
        text = f"{self.kind.sign} field {self.entity}.{self.field}: {'; '.join(what)}"
        return _with_columns(text, self.columns)

    def to_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "field": self.field, "change": self.kind.value,
                "data_type": self.data_type, "properties": [p.to_dict() for p in self.properties],
                "columns": [c.to_dict() for c in self.columns]}


@dataclass(frozen=True)
class EntityChange:
    entity: str
    kind: Kind
    table: str
    display_name: str
    properties: tuple[PropertyChange, ...] = ()
    columns: tuple[ColumnChange, ...] = ()

    def describe(self) -> str:
        if self.kind is Kind.ADDED:
            return (f"{self.kind.sign} entity {self.entity} ({self.display_name!r}): new table {self.table} "
                    f"({len(self.columns)} columns)")
        if self.kind is Kind.REMOVED:
            return f"{self.kind.sign} entity {self.entity}: table {self.table} is no longer in the schema"
        return f"{self.kind.sign} entity {self.entity}: {'; '.join(p.describe() for p in self.properties)}"

    def to_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "change": self.kind.value, "table": self.table,
                "display_name": self.display_name,
                "properties": [p.to_dict() for p in self.properties],
                "columns": [c.to_dict() for c in self.columns]}


@dataclass(frozen=True)
class SchemaDiff:
    old_source: str
    new_source: str
    entities: tuple[EntityChange, ...] = ()
    fields: tuple[FieldChange, ...] = ()
    columns: tuple[ColumnChange, ...] = ()   # every raw column change, in table order

    def __bool__(self) -> bool:
        return bool(self.entities or self.fields)

    @property
    def destructive(self) -> tuple[ColumnChange, ...]:
        """Column changes a migration refuses unless told ``--allow-destructive``."""
        return tuple(c for c in self.columns if c.destructive)

    def describe(self) -> list[str]:
        """One line per change, entities first; the human report of ``sg2dbt diff``."""
        return [c.describe() for c in self.entities] + [c.describe() for c in self.fields]

    def to_dict(self) -> dict[str, Any]:
        def count(changes: Iterable[EntityChange | FieldChange | ColumnChange], kind: Kind) -> int:
            return sum(1 for c in changes if c.kind is kind)

        return {
            "old": self.old_source,
            "new": self.new_source,
            "summary": {
                "entities": {k.value: count(self.entities, k) for k in Kind},
                "fields": {k.value: count(self.fields, k) for k in Kind},
                "columns": {k.value: count(self.columns, k) for k in Kind},
                "destructive_columns": len(self.destructive),
            },
            "entities": [c.to_dict() for c in self.entities],
            "fields": [c.to_dict() for c in self.fields],
        }


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(value) + "]"
    return repr(value) if value not in (None, "") else "(none)"


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _with_columns(text: str, columns: tuple[ColumnChange, ...]) -> str:
    return f"{text} [{', '.join(c.describe() for c in columns)}]" if columns else text


def _column_changes(old: RawTable | None, new: RawTable | None) -> list[ColumnChange]:
    """Column-level comparison of one table's two layouts; a missing side means the table is new or gone."""
    old_cols: Mapping[str, RawColumn] = {c.name: c for c in old.columns} if old else {}
    new_cols: Mapping[str, RawColumn] = {c.name: c for c in new.columns} if new else {}
    table = (new or old).name  # type: ignore[union-attr]
    changes = []
    for name, c in new_cols.items():
        before = old_cols.get(name)
        if before is None:
            changes.append(ColumnChange(table, name, Kind.ADDED, new_type=c.logical.value))
        elif before.logical is not c.logical:
            changes.append(ColumnChange(table, name, Kind.CHANGED, before.logical.value, c.logical.value))
        elif _field_name(before) != _field_name(c) or before.role is not c.role:
            # Same name and type, other meaning: a new field took the name of another field's link column.
            changes.append(ColumnChange(table, name, Kind.CHANGED, before.logical.value, c.logical.value,
                                        _field_name(before), _field_name(c)))
    changes += [ColumnChange(table, name, Kind.REMOVED, old_type=c.logical.value)
                for name, c in old_cols.items() if name not in new_cols]
    return changes


def _field_name(column: RawColumn) -> str | None:
    return column.field.name if column.field is not None else None


def _owners(old: RawTable, new: RawTable, change: ColumnChange) -> set[str]:
    """The SG fields a column change belongs to: both owners when a column changed hands."""
    sides = [t for t, present in ((old, change.kind is not Kind.ADDED),
                                  (new, change.kind is not Kind.REMOVED)) if present]
    return {n for t in sides for c in t.columns if c.name == change.column
            for n in [_field_name(c)] if n is not None}


def _properties(old: Field | Entity, new: Field | Entity, names: Iterable[str]) -> tuple[PropertyChange, ...]:
    return tuple(PropertyChange(n, getattr(old, n), getattr(new, n)) for n in names
                 if getattr(old, n) != getattr(new, n))


def _field_changes(old_t: RawTable, new_t: RawTable, columns: list[ColumnChange]) -> list[FieldChange]:
    old_e, new_e = old_t.entity, new_t.entity
    by_field: dict[str, list[ColumnChange]] = {}
    for c in columns:
        for owner in _owners(old_t, new_t, c):
            by_field.setdefault(owner, []).append(c)
    out = []
    for name in sorted(set(old_e.fields) | set(new_e.fields)):
        before, after = old_e.fields.get(name), new_e.fields.get(name)
        cols = tuple(by_field.get(name, ()))
        if before is None and after is not None:
            out.append(FieldChange(new_e.name, name, Kind.ADDED, after.data_type, columns=cols))
        elif after is None and before is not None:
            out.append(FieldChange(old_e.name, name, Kind.REMOVED, before.data_type, columns=cols))
        elif before is not None and after is not None:
            props = _properties(before, after, FIELD_PROPERTIES)
            if props or cols:
                out.append(FieldChange(new_e.name, name, Kind.CHANGED, after.data_type, props, cols))
    return out


def compare_layouts(old: RawLayout, new: RawLayout) -> SchemaDiff:
    """The diff of two planned layouts (plan each schema once and reuse it where you have it)."""
    entities: list[EntityChange] = []
    fields: list[FieldChange] = []
    all_columns: list[ColumnChange] = []
    for name in sorted(set(old.tables) | set(new.tables)):
        old_t, new_t = old.table_for(name), new.table_for(name)
        columns = _column_changes(old_t, new_t)
        all_columns += columns
        if old_t is None and new_t is not None:
            entities.append(EntityChange(name, Kind.ADDED, new_t.name, new_t.entity.display_name,
                                         columns=tuple(columns)))
        elif new_t is None and old_t is not None:
            entities.append(EntityChange(name, Kind.REMOVED, old_t.name, old_t.entity.display_name,
                                         columns=tuple(columns)))
        elif old_t is not None and new_t is not None:
            props = _properties(old_t.entity, new_t.entity, ("display_name",))
            if props:
                entities.append(EntityChange(name, Kind.CHANGED, new_t.name, new_t.entity.display_name,
                                             props))
            fields += _field_changes(old_t, new_t, columns)
    return SchemaDiff(old.schema.source, new.schema.source, tuple(entities), tuple(fields),
                      tuple(all_columns))


def diff(old: Schema, new: Schema) -> SchemaDiff:
    """Everything that changed from ``old`` to ``new``, with the raw-layer consequence of each change."""
    return compare_layouts(plan(old), plan(new))
