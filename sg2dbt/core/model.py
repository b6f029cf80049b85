"""The one typed, immutable schema model that every emitter and the loader read.

Schema sources (JSON dumps, live sites, Mockgun pickles) are all normalised into these classes by
:mod:`sg2dbt.schema.sources`; nothing downstream looks at SG's raw ``{"value": ...}`` dictionaries again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType


@dataclass(frozen=True)
class Field:
    """One SG field as ``schema_field_read`` describes it."""

    entity: str
    name: str
    data_type: str
    display_name: str = ""
    description: str = ""
    valid_types: tuple[str, ...] = ()
    valid_values: tuple[str, ...] = ()
    mandatory: bool = False
    unique: bool = False
    editable: bool = True
    summary_default: str | None = None


def _frozen_fields(fields: Iterable[Field]) -> Mapping[str, Field]:
    ordered = sorted(fields, key=lambda f: (f.name != "id", f.name))
    return MappingProxyType({f.name: f for f in ordered})


@dataclass(frozen=True)
class Entity:
    """One SG entity type; fields are ordered ``id`` first, then by name, so output is deterministic."""

    name: str
    display_name: str
    fields: Mapping[str, Field] = field(default_factory=lambda: MappingProxyType({}))

    @staticmethod
    def of(name: str, display_name: str, fields: Iterable[Field]) -> Entity:
        return Entity(name=name, display_name=display_name or name, fields=_frozen_fields(fields))

    @property
    def has_updated_at(self) -> bool:
        """Entities without ``updated_at`` (connections, EventLogEntry, ...) can only be reloaded whole."""
        f = self.fields.get("updated_at")
        return f is not None and f.data_type == "date_time"

    def __hash__(self) -> int:
        return hash((self.name, self.display_name, tuple(self.fields.values())))


@dataclass(frozen=True)
class Schema:
    """A whole site's schema: entities by API name, sorted by name."""

    entities: Mapping[str, Entity]
    source: str = "<memory>"

    @staticmethod
    def of(entities: Iterable[Entity], source: str = "<memory>") -> Schema:
        ordered = sorted(entities, key=lambda e: e.name)
        return Schema(entities=MappingProxyType({e.name: e for e in ordered}), source=source)

    def __iter__(self) -> Iterator[Entity]:
        return iter(self.entities.values())

    def __len__(self) -> int:
        return len(self.entities)

    def __getitem__(self, name: str) -> Entity:
        return self.entities[name]

    def __contains__(self, name: object) -> bool:
        return name in self.entities

    def __hash__(self) -> int:
        return hash(tuple(self.entities.values()))

    def filtered(self, *, only: Iterable[str] | None = None, ignore: Iterable[str] = (),
                 ignore_fields: Iterable[str] = ()) -> Schema:
        """Keep a subset of entities and fields.

        ``ignore_fields`` entries are either ``field`` (dropped from every entity, as shotgrid_orm's
        ``ignored_fields`` does) or ``Entity.field``. ``id`` is never dropped: the raw layer needs its key.
        """
        only_set = set(only) if only is not None else None
        ignore_set = set(ignore)
        drop = set(ignore_fields)
        kept = []
        for entity in self:
            if entity.name in ignore_set or (only_set is not None and entity.name not in only_set):
                continue
            fields = [f for f in entity.fields.values()
                      if f.name == "id" or (f.name not in drop and f"{entity.name}.{f.name}" not in drop)]
            kept.append(replace(entity, fields=_frozen_fields(fields)))
        return Schema.of(kept, source=self.source)
