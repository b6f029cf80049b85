"""The staging layer's plan: which models, which columns, which tests, derived from the raw layout.

Everything the templates and YAML writers print comes from here, and every name comes from
:mod:`sg2dbt.core.naming` or the :class:`~sg2dbt.core.layout.RawLayout`. Rules (docs/dbt-project.md):

* ``id`` becomes ``<entity>_id``; value columns keep their raw names, cast to their logical type.
* Single-type entity link ``f`` -> ``f_id`` (the type is constant, so ``f_type`` is dropped).
* Polymorphic link -> the raw ``f_id`` and ``f_type`` plus one ``f_<type>_id`` per valid type that the
  schema holds (a type absent from the schema has no model to join; its links stay visible through
  ``f_id``/``f_type``). No valid types at all -> ``f_id`` and ``f_type`` only.
* Multi-entity fields leave the staging model and become bridge models, one row per link.
* Derived names (the key, ``f_<type>_id``) yield to raw names: a clash doubles the last underscore;
  what still clashes is refused with a NamingError naming the entity and both names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sg2dbt.core import naming
from sg2dbt.core.errors import NamingError
from sg2dbt.core.layout import RawColumn, RawField, RawLayout, RawTable, Role
from sg2dbt.core.model import Field
from sg2dbt.core.typemap import STORAGE, Logical, Shape
from sg2dbt.emit.project.options import ProjectOptions

# Staging models cast through ``sg2dbt_types()`` (a macro the project renders from the type map's per-adapter
# casts): ``{{ t.text }}`` is ``text`` on PostgreSQL, ``string`` on Spark and BigQuery, ``varchar(65535)`` on
# Redshift. JSON columns pass through uncast: each warehouse spells JSON differently and the raw table
# already has the right type.
TYPES_VAR = "t"


def cast_type(logical: Logical) -> str:
    """The model SQL naming the adapter's CAST type of ``logical``."""
    return f"{{{{ {TYPES_VAR}.{logical.value} }}}}"


# The staging key's tests: dbt-project-evaluator counts a model as having a primary-key test when one column
# carries both (a view of a source filtered by a flag cannot break them, but the evaluator and a dbt engineer
# reading the project should not have to know that).
KEY_TESTS: tuple[dict[str, object] | str, ...] = ("unique", "not_null")


def quote_expr(name: str) -> str:
    """A Jinja expression for an identifier in the adapter's quoting (backticks on Spark and BigQuery, double
    quotes elsewhere) where some database reserves the name (``user``), else the plain name as a string."""
    return f"adapter.quote('{name}')" if naming.is_reserved(name) else f"'{name}'"


def quote(name: str) -> str:
    """Model SQL of an identifier: quoted by ``adapter.quote`` where some database reserves it."""
    return f"{{{{ adapter.quote('{name}') }}}}" if naming.is_reserved(name) else name


def sql_string(text: str) -> str:
    """A SQL string literal (standard quoting, no backslash escapes).

    dbt renders model SQL with Jinja, so a literal holding ``{{``, ``{%`` or ``{#`` (an entity named
    ``{{ env_var('SG_API_KEY') }}``) would run as code: such literals are concatenated from pieces that
    split every opening delimiter, which keeps the value byte for byte.
    """
    body = text.replace("'", "''")
    split = re.sub(r"\{(?=[{%#])", "{' || '", body)
    return f"'{body}'" if split == body else f"('{split}')"


@dataclass(frozen=True)
class Column:
    name: str
    expr: str               # SQL over the raw table's columns
    description: str
    data_tests: tuple[dict[str, object] | str, ...] = ()

    @property
    def quoted(self) -> bool:
        return naming.is_reserved(self.name)

    @property
    def sql(self) -> str:
        return self.expr if self.expr == quote(self.name) else f"{self.expr} as {quote(self.name)}"


@dataclass(frozen=True)
class Bridge:
    name: str
    table: RawTable
    raw_field: RawField
    owner_key: str          # the owner's key column in the bridge (the owner model's key, unless it clashes)
    owner_model: str        # the owner's staging model and its key column (the bridge's relationships test)
    owner_model_key: str

    @property
    def ids_column(self) -> RawColumn:
        return self.raw_field.column(Role.LINK_IDS)

    @property
    def types_column(self) -> RawColumn:
        return self.raw_field.column(Role.LINK_TYPE)


@dataclass(frozen=True)
class StagingModel:
    name: str
    key: str
    table: RawTable
    columns: tuple[Column, ...] = ()
    bridges: tuple[Bridge, ...] = ()

    @property
    def entity(self) -> str:
        return self.table.entity.name

    @property
    def display_name(self) -> str:
        return self.table.entity.display_name


@dataclass(frozen=True)
class StagingPlan:
    options: ProjectOptions
    layout: RawLayout
    models: Mapping[str, StagingModel]   # by entity API name, sorted like the layout

    def __iter__(self) -> Iterator[StagingModel]:
        return iter(self.models.values())

    @property
    def bridges(self) -> tuple[Bridge, ...]:
        return tuple(b for m in self for b in m.bridges)


def _cast(c: RawColumn) -> str:
    if STORAGE[c.logical].staging_cast is None:
        return quote(c.name)
    return f"cast({quote(c.name)} as {cast_type(c.logical)})"


def field_text(f: Field, what: str) -> str:
    """``Display name (what). Description``: one wording for a field's raw and staging columns, so the
    sources file and the staging models describe the same field alike."""
    text = f"{f.display_name or f.name} ({what})."
    description = f.description.strip()
    return f"{text} {description}" if description else text


def type_text(rf: RawField) -> str:
    """The field's SG data type with what the type map notes of it (minutes, milliseconds, UTC, a mask...):
    the unit a BI user needs to read the number right."""
    note = rf.sg_type.note
    return f"{rf.field.data_type}, {note}" if note else rf.field.data_type


def _describe(rf: RawField, what: str = "") -> str:
    return field_text(rf.field, f"{type_text(rf)}, {what}" if what else type_text(rf))


def _value(rf: RawField) -> Column:
    c = rf.column(Role.VALUE)
    tests: tuple[dict[str, object], ...] = ()
    if rf.field.data_type == "status_list" and rf.field.valid_values:
        values: list[str] = sorted(set(rf.field.valid_values))
        arguments: dict[str, object] = {"values": values}
        if any("'" in v for v in values):
            # dbt's accepted_values pastes each value between quotes unescaped ("it's" would end the string
            # and the rest run as SQL): hand it escaped SQL literals instead.
            arguments = {"values": [sql_string(v) for v in values], "quote": False}
        tests = ({"accepted_values": {"arguments": arguments, "config": {"severity": "warn"}}},)
    return Column(c.name, _cast(c), _describe(rf), tests)


def _link(rf: RawField, names: naming.ModelNames, convention: naming.NamingConvention, stems: Mapping[str, str],
          keys: Mapping[str, str], models: Mapping[str, str]) -> list[Column]:
    id_col, type_col = rf.column(Role.LINK_ID), rf.column(Role.LINK_TYPE)
    types = sorted(set(rf.field.valid_types))
    if len(types) == 1:
        target = types[0]
        tests: tuple[dict[str, object], ...] = ()
        if target in models:
            to = f"ref('{models[target]}')"
            tests = ({"relationships": {"arguments": {"to": to, "field": keys[target]},
                                        "config": {"severity": "warn"}}},)
        return [Column(id_col.name, _cast(id_col), _describe(rf, f"id of the linked {target}"), tests)]
    out = [Column(id_col.name, _cast(id_col), _describe(rf, "id of the linked record, any type")),
           Column(type_col.name, _cast(type_col), _describe(rf, "type of the linked record"))]
    for target in types:
        if target not in stems:
            continue  # absent from the schema: no model to join; the link stays in f_id/f_type
        name = names.derive(convention.typed_link_id(rf.stem, stems[target]), f"{rf.field.name} -> {target}")
        when = f"{quote(type_col.name)} = {sql_string(target)}"
        out.append(Column(
            # one clause a line: typed-link names run long, and the project lints at 120 characters (.sqlfluff)
            name, f"case\n            when {when}\n                then {_cast(id_col)}\n        end",
            _describe(rf, f"id of the linked {target} when the link points at one, else null")))
    return out


def _raw_names(t: RawTable) -> set[str]:
    """Raw column names that staging keeps as they are."""
    return {c.name for rf in t.fields.values()
            if rf.field.name != naming.ID_COLUMN and rf.shape is not Shape.MULTI_ENTITY
            for c in rf.columns} | {c.name for c in t.columns if c.role is Role.LOADED_AT}


def plan(layout: RawLayout, options: ProjectOptions) -> StagingPlan:
    """The staging models and bridges of ``layout``; refuses (NamingError) any name that would collide."""
    convention = options.naming
    stems = convention.stems((t.entity, t.name) for t in layout)
    models = {e: convention.staging_model(s) for e, s in stems.items()}
    names = {t.entity.name: naming.ModelNames(t.entity.name, _raw_names(t)) for t in layout}
    keys = {e: n.derive(convention.entity_key(stems[e]), "the key") for e, n in names.items()}
    seen: dict[str, str] = {}
    built: dict[str, StagingModel] = {}
    for t in layout:
        e = t.entity.name
        columns = [Column(keys[e], _cast(t.column(naming.ID_COLUMN)),
                          f"{t.entity.display_name} id in ShotGrid (the {e} entity's id).", KEY_TESTS)]
        bridges = []
        owner_key = convention.bridge_owner_key(keys[e])  # the same in every bridge of the entity
        for rf in t.fields.values():
            if rf.field.name == naming.ID_COLUMN or not rf.columns:
                continue
            if rf.shape is Shape.VALUE:
                columns.append(_value(rf))
            elif rf.shape is Shape.ENTITY:
                columns.extend(_link(rf, names[e], convention, stems, keys, models))
            else:
                bridge = convention.bridge_model(stems[e], rf.stem)
                bridges.append(Bridge(bridge, t, rf, owner_key, models[e], keys[e]))
        loaded = next(c for c in t.columns if c.role is Role.LOADED_AT)
        columns.append(Column(loaded.name, _cast(loaded), "When sg2dbt last wrote this row (UTC)."))
        built[e] = StagingModel(models[e], keys[e], t, tuple(columns), tuple(bridges))
        for name in (models[e], *(b.name for b in bridges)):
            if name in seen:
                raise NamingError(f"dbt models of {seen[name]!r} and {e!r} are both named {name!r}")
            seen[name] = e
    return StagingPlan(options, layout, built)
