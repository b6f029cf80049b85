"""The raw layer's layout: which columns each SG field becomes. The contract between DDL, loader and dbt.

:func:`plan` is the only place where column names are derived from field names. Everything that needs a
column (the SQLAlchemy metadata, the standalone module, the dbt sources and staging models, the loader's
row conversion) asks the :class:`RawLayout` for it.

Collision rule: a field's *own* column (a value column, named after the field) always keeps its name.
A derived link column (``f_id``, ``f_ids``, ``f_type``) that would take a name already used by another
field gets a double underscore instead (``project__id``). Anything still colliding after that, or a name
clashing with the loader's ``_sg_*`` bookkeeping columns, is refused with a :class:`NamingError` that
names both fields.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sqlalchemy.types import TypeEngine

from sg2dbt.core import naming
from sg2dbt.core.errors import NamingError
from sg2dbt.core.model import Entity, Field, Schema
from sg2dbt.core.typemap import STORAGE, Logical, SgType, Shape, resolve

# The database schema holding the raw tables unless --raw-schema / SG2DBT_RAW_SCHEMA say otherwise.
DEFAULT_RAW_SCHEMA = "shotgrid_raw"
RETIRED_COLUMN = naming.RETIRED_COLUMN
LOADED_AT_COLUMN = naming.LOADED_AT_COLUMN


class Role(enum.Enum):
    ID = "id"
    VALUE = "value"
    LINK_ID = "link_id"          # entity field: the linked record's id
    LINK_IDS = "link_ids"        # multi-entity field: comma-separated ids
    LINK_TYPE = "link_type"      # entity: the type; multi-entity: comma-separated types, aligned with ids
    RETIRED = "retired"
    LOADED_AT = "loaded_at"


@dataclass(frozen=True)
class RawColumn:
    name: str                 # database column name
    attr: str                 # ORM attribute name (== name unless Python/SQLAlchemy reserve it)
    role: Role
    logical: Logical
    field: Field | None = None  # None for bookkeeping columns

    @property
    def sa_type(self) -> TypeEngine:
        return STORAGE[self.logical].sa_type()

    @property
    def quoted(self) -> bool:
        """Whether SQL must quote this name (reserved word)."""
        return naming.is_reserved(self.name)

    @property
    def doc(self) -> str | None:
        """The column's doc in the ORM and the standalone module, which must agree: the SG description, else the
        display name; None for bookkeeping columns and for fields with neither."""
        if self.field is None:
            return None
        return self.field.description or self.field.display_name or None


@dataclass(frozen=True)
class RawField:
    """One SG field and the columns it became (none for pivot columns)."""

    field: Field
    sg_type: SgType
    columns: tuple[RawColumn, ...]
    own_name: str             # the field's own column name, which a link field keeps free (its attribute's stem)
    stem: str                 # the field's normalized name before shortening: derived names start from it

    @property
    def shape(self) -> Shape:
        return self.sg_type.shape

    def column(self, role: Role) -> RawColumn:
        for c in self.columns:
            if c.role is role:
                return c
        raise KeyError(f"{self.field.entity}.{self.field.name} has no {role.value} column")


@dataclass(frozen=True)
class RawTable:
    entity: Entity
    name: str
    class_name: str
    fields: Mapping[str, RawField]
    columns: tuple[RawColumn, ...]

    @property
    def quoted(self) -> bool:
        """Whether SQL must quote the table name (reserved word)."""
        return naming.is_reserved(self.name)

    @property
    def omitted(self) -> tuple[Field, ...]:
        """Fields with no column (pivot columns), listed so the generated docs can say so."""
        return tuple(rf.field for rf in self.fields.values() if not rf.columns)

    def column(self, name: str) -> RawColumn:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def aliases(self) -> dict[str, str]:
        """Extra ORM attributes for shotgrid_orm's names: ``{alias: attribute}`` (``_metadata`` ->
        ``metadata_``). An alias that would shadow an attribute is left out."""
        attrs = {c.attr for c in self.columns}
        pairs = ((naming.shotgrid_orm_attribute(c.field.name, c.name), c.attr) for c in self.columns if c.field)
        return {alias: attr for alias, attr in pairs if alias and alias not in attrs}

    @property
    def link_attributes(self) -> dict[str, RawField]:
        """``{attribute: field}`` for every link field whose SG name is free as an ORM attribute, so a link can
        be set as ``find()`` returns it (``shot.project = {'type': 'Project', 'id': 1}``)."""
        taken = {c.attr for c in self.columns} | set(self.aliases)
        links = {naming.attribute_name(rf.own_name): rf for rf in self.fields.values()
                 if rf.shape in (Shape.ENTITY, Shape.MULTI_ENTITY)}
        return {attr: rf for attr, rf in links.items() if attr not in taken and not attr.startswith("_")}


@dataclass(frozen=True)
class RawLayout:
    schema: Schema
    tables: Mapping[str, RawTable]   # by entity API name, sorted

    def __iter__(self) -> Iterator[RawTable]:
        return iter(self.tables.values())

    def __getitem__(self, entity: str) -> RawTable:
        return self.tables[entity]

    def table_for(self, entity: str) -> RawTable | None:
        return self.tables.get(entity)


def _field_columns(f: Field, t: SgType, base: str, taken: Mapping[str, str]) -> list[RawColumn]:
    def derived(name: str) -> str:
        # ``taken`` maps every field's own column name to its field; derived names yield to other fields'.
        name = naming.shorten(name)
        return name if taken.get(name, f.name) == f.name else naming.disambiguate(name, taken.keys())

    if f.name == naming.ID_COLUMN:
        return [RawColumn(naming.ID_COLUMN, naming.ID_COLUMN, Role.ID, Logical.BIGINT, f)]
    if t.shape is Shape.NONE:
        return []
    if t.shape is Shape.ENTITY:
        return [
            RawColumn(n, naming.attribute_name(n), r, lg, f)
            for n, r, lg in (
                (derived(naming.link_id(base)), Role.LINK_ID, Logical.BIGINT),
                (derived(naming.link_type(base)), Role.LINK_TYPE, Logical.TEXT),
            )
        ]
    if t.shape is Shape.MULTI_ENTITY:
        return [
            RawColumn(n, naming.attribute_name(n), r, Logical.TEXT, f)
            for n, r in (
                (derived(naming.link_ids(base)), Role.LINK_IDS),
                (derived(naming.link_type(base)), Role.LINK_TYPE),
            )
        ]
    name = naming.shorten(base)
    assert t.logical is not None
    return [RawColumn(name, naming.attribute_name(name), Role.VALUE, t.logical, f)]


def plan_table(entity: Entity) -> RawTable:
    # Base (unshortened) column stem per field; the field's own column is its shortened stem.
    bases = {f.name: naming.normalize(f.name) for f in entity.fields.values()}
    own: dict[str, str] = {}
    for fname, base in bases.items():
        own_name = naming.shorten(base)
        if own_name in own:
            raise NamingError(f"entity {entity.name!r}: fields {own[own_name]!r} and {fname!r} both map to "
                              f"column {own_name!r}")
        own[own_name] = fname
    raw_fields: dict[str, RawField] = {}
    by_name: dict[str, RawColumn] = {}
    for f in entity.fields.values():
        t = resolve(f)
        cols = _field_columns(f, t, bases[f.name], own)
        for c in cols:
            if c.name.startswith(naming.BOOKKEEPING_PREFIX):
                raise NamingError(f"entity {entity.name!r}: field {f.name!r} maps to column {c.name!r}, "
                                  f"which the loader's bookkeeping columns reserve")
            if c.name in by_name:
                other = by_name[c.name].field
                raise NamingError(f"entity {entity.name!r}: fields {other.name if other else '?'!r} and "
                                  f"{f.name!r} both map to column {c.name!r}")
            by_name[c.name] = c
        raw_fields[f.name] = RawField(f, t, tuple(cols), naming.shorten(bases[f.name]), bases[f.name])
    attrs: dict[str, str] = {}
    for c in by_name.values():
        if c.attr in attrs:
            raise NamingError(f"entity {entity.name!r}: columns {attrs[c.attr]!r} and {c.name!r} both map to "
                              f"attribute {c.attr!r}")
        attrs[c.attr] = c.name
    if naming.ID_COLUMN not in by_name:
        raise NamingError(f"entity {entity.name!r} has no id field")
    bookkeeping = (
        RawColumn(RETIRED_COLUMN, RETIRED_COLUMN, Role.RETIRED, Logical.BOOLEAN),
        RawColumn(LOADED_AT_COLUMN, LOADED_AT_COLUMN, Role.LOADED_AT, Logical.TIMESTAMPTZ),
    )
    return RawTable(
        entity=entity,
        name=naming.table_name(entity.name),
        class_name=naming.class_name(entity.name),
        fields=MappingProxyType(raw_fields),
        columns=(*by_name.values(), *bookkeeping),
    )


def plan(schema: Schema) -> RawLayout:
    """Lay out every entity of ``schema``; refuse (NamingError) names that collide after mangling."""
    tables = [plan_table(e) for e in schema]
    seen_tables: dict[str, str] = {}
    seen_classes: dict[str, str] = {}
    for t in tables:
        for seen, key in ((seen_tables, t.name), (seen_classes, t.class_name)):
            if key in seen:
                raise NamingError(f"entities {seen[key]!r} and {t.entity.name!r} both map to {key!r}")
            seen[key] = t.entity.name
    return RawLayout(schema=schema, tables=MappingProxyType({t.entity.name: t for t in tables}))
