"""All naming rules in one place: tables, columns, ORM classes and attributes, dbt model names.

Decisions (documented in README "Raw and staging conventions"):

* Identifiers are lower-case ``[a-z0-9_]``; any other character becomes ``_`` and a leading digit gets a
  ``_`` prefix. SG's own field names already satisfy this, so the database column keeps the SG name.
* SQL reserved words (``user``, ``order``, ``group``) are kept as names and quoted wherever SQL is emitted.
* Identifiers longer than PostgreSQL's 63 bytes are cut to 54 characters plus ``_`` and the first 8 hex
  digits of the SHA-1 of the full name: deterministic and stable when other names change.
* ORM attributes equal column names except where Python or SQLAlchemy forbid it (keywords, ``metadata``,
  ``registry``): those get a trailing ``_`` (``metadata`` -> ``metadata_``), as sqlacodegen does.
* Columns that would collide are resolved in :mod:`sg2dbt.core.layout`; what cannot be resolved is refused
  with a :class:`~sg2dbt.core.errors.NamingError` naming both SG fields.
"""

from __future__ import annotations

import hashlib
import keyword
import re
from collections import Counter
from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.dialects.mysql.reserved_words import RESERVED_WORDS_MYSQL
from sqlalchemy.dialects.postgresql.base import RESERVED_WORDS as _PG_RESERVED
from sqlalchemy.sql.compiler import RESERVED_WORDS as _ANSI_RESERVED

from sg2dbt.core.errors import NamingError

if TYPE_CHECKING:
    from sg2dbt.core.model import Entity

MAX_IDENTIFIER = 63
_HASH_LEN = 8

# Keywords that SQLAlchemy's lists lack: DuckDB's reserved and type/function keywords (duckdb_keywords())
# and SQLite's newer ones. A table or column so named fails on that database unless quoted.
_MORE_RESERVED = frozenset({
    "lambda", "pivot", "pivot_longer", "pivot_wider", "summarize", "unpivot", "anti", "asof", "at",
    "collation", "columns", "concurrently", "glob", "map", "positional", "semi", "struct", "tablesample",
    "try_cast", "tuple", "unpack", "nothing", "returning",
})

# Words that must be quoted on at least one supported database; quoting them everywhere is harmless, and
# the emitters do (SQLAlchemy alone quotes only what the target dialect's own list holds: SQLite's lacks
# ``returning``).
RESERVED_WORDS: frozenset[str] = frozenset(
    w.lower() for w in _PG_RESERVED | _ANSI_RESERVED | RESERVED_WORDS_MYSQL | _MORE_RESERVED
)

# Attribute names a declarative class cannot use for a column.
_SA_RESERVED_ATTRS = frozenset({"metadata", "registry", "awaitable_attrs"})

# Module names the class bodies of the standalone module call (``sa.Text()``, ``mapped_column(...)``): a column
# attribute of that name would shadow them for every column after it.
_MODULE_CALLS = frozenset({"sa", "mapped_column", "synonym", "SgDate"})

# Names the generated standalone module defines itself; an entity class may not shadow them.
MODULE_NAMES = frozenset({"Base", "CLASSES", "Optional", "Any", "datetime", "sa", "Mapped", "mapped_column",
                          "DeclarativeBase", "JSONB", "annotations", "synonym", "SgDate"})

_NON_IDENT = re.compile(r"[^a-z0-9_]")
_CAMEL_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")


def shorten(name: str, limit: int = MAX_IDENTIFIER) -> str:
    """Cut ``name`` to ``limit`` characters, keeping it unique by a hash of the full name."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:_HASH_LEN]
    return f"{name[: limit - _HASH_LEN - 1]}_{digest}"


def normalize(raw: str) -> str:
    """Lower-case ``[a-z0-9_]`` form of any SG name (without length limit)."""
    name = _NON_IDENT.sub("_", raw.lower())
    if not name or name[0].isdigit():
        name = f"_{name}"
    return name


def identifier(raw: str) -> str:
    """A legal database identifier for an SG name: normalized, then shortened."""
    return shorten(normalize(raw))


def snake_case(api_name: str) -> str:
    """``HumanUser`` -> ``human_user``, ``CustomEntity01`` -> ``custom_entity01``, ``APIUser`` -> ``api_user``."""
    return _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", api_name)).lower()


def table_name(entity: str) -> str:
    return identifier(snake_case(entity))


def link_id(field_column: str) -> str:
    return f"{field_column}_id"


def link_ids(field_column: str) -> str:
    return f"{field_column}_ids"


def link_type(field_column: str) -> str:
    return f"{field_column}_type"


def shotgrid_orm_stem(field: str) -> str:
    """The stem of shotgrid_orm's attribute and column names for ``field``: the field's name, except that it
    prefixes ``metadata`` with ``_`` (``_metadata``, ``_metadata_id``), which SQLAlchemy reserves."""
    return f"_{field}" if field == "metadata" else field


def shotgrid_orm_attribute(field: str, column: str) -> str | None:
    """shotgrid_orm's attribute for ``column`` of ``field`` where it differs from ours (``_metadata`` for
    ``metadata``); sg2dbt maps these as aliases."""
    return f"_{column}" if shotgrid_orm_stem(field) != field else None


def class_name(entity: str) -> str:
    """The ORM class name: the API name wherever Python allows it."""
    name = re.sub(r"[^0-9A-Za-z_]", "_", entity)
    if not name or name[0].isdigit():
        name = f"E_{name}"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in MODULE_NAMES or name.startswith("__"):
        name = f"{name}_"
    return name


def attribute_name(column: str) -> str:
    """The ORM attribute of a column: the column name unless Python or SQLAlchemy reserve it.

    Soft keywords (``match``, ``type``) are legal attributes and are kept: suffixing them would make the
    output depend on the Python version that generated it.
    """
    if column.startswith(("_sa_", "__")):
        # A suffix cannot help here: SQLAlchemy's declarative scan skips such names (the column would vanish
        # from the standalone module) and Python mangles ``__x`` inside a class body.
        return f"sg{column}"
    if keyword.iskeyword(column) or column in _SA_RESERVED_ATTRS or column in _MODULE_CALLS:
        return f"{column}_"
    return column


def is_reserved(name: str) -> bool:
    """True where SQL must quote ``name`` on some supported database."""
    return name.lower() in RESERVED_WORDS


# --- bookkeeping columns --------------------------------------------------------------------------------
# Columns sg2dbt adds to every raw table, and the columns of every bridge model. The layout, the loader, the
# generated models and the dbt macros all take these names from here (the macros receive them as arguments).

ID_COLUMN = "id"
RETIRED_COLUMN = "_sg_retired"
LOADED_AT_COLUMN = "_sg_loaded_at"
BOOKKEEPING_PREFIX = "_sg_"       # reserved: no SG field may map to a column that starts with it
BRIDGE_POSITION = "link_position"
BRIDGE_LINKED_TYPE = "linked_type"
BRIDGE_LINKED_ID = "linked_id"
BRIDGE_COLUMNS = (BRIDGE_POSITION, BRIDGE_LINKED_TYPE, BRIDGE_LINKED_ID)


def disambiguate(name: str, taken: Container[str]) -> str:
    """A derived name that clashes with an existing column doubles its last underscore (``shot_id`` ->
    ``shot__id``): raw link columns (:mod:`sg2dbt.core.layout`) and staging keys both yield this way. Returns
    ``name`` when free; the caller refuses what still clashes."""
    if name not in taken:
        return name
    head, sep, tail = name.rpartition("_")
    return shorten(f"{head}__{tail}") if sep and head else shorten(f"{name}__")


class ModelNames:
    """The output names of one staging model: raw names are kept, derived names (the key, typed link ids)
    yield to them by :func:`disambiguate`, and a name that still clashes is refused naming the entity."""

    def __init__(self, entity: str, raw: Iterable[str]) -> None:
        self.entity = entity
        self.taken = set(raw)

    def derive(self, wanted: str, what: str) -> str:
        name = disambiguate(wanted, self.taken)
        if name in self.taken:
            raise NamingError(f"entity {self.entity!r}: staging column {wanted!r} ({what}) collides with "
                              f"{name!r} even after renaming")
        self.taken.add(name)
        return name


# --- dbt staging layer -------------------------------------------------------------------------------

def display_stem(display_name: str) -> str:
    """``"Disk Location"`` -> ``disk_location``: the stem of an entity named by its site display name."""
    return identifier(re.sub(r"_+", "_", normalize(display_name.strip())).strip("_") or "_")


@dataclass(frozen=True)
class NamingConvention:
    """The names of the dbt staging layer, built from a per-entity *stem* (the raw table name).

    One object that the dbt emitter asks for every name, as dlt's ``NamingConvention`` and sqlacodegen's
    generators do: a studio that wants other names subclasses it and overrides a method.
    :class:`DisplayNameConvention` (``--name-by-display``) is the second convention. Model names are
    relation names, so every name is cut to ``max_length`` (PostgreSQL's 63 bytes: the one project must run
    unchanged on every target, so the smallest limit serves all; :mod:`sg2dbt.core.dialects` records each).
    """

    source_name: str = "shotgrid"
    max_length: int = MAX_IDENTIFIER

    def shorten(self, name: str) -> str:
        return shorten(name, self.max_length)

    def entity_stem(self, entity: Entity, table_name: str) -> str:
        """The stem of an entity's model names: its raw table name."""
        return table_name

    def stems(self, tables: Iterable[tuple[Entity, str]]) -> dict[str, str]:
        """Entity API name -> stem, for (entity, raw table name) pairs. Stems that two entities would share
        fall back to their raw table names (which :mod:`sg2dbt.core.layout` keeps unique)."""
        pairs = list(tables)
        wanted = {e.name: self.entity_stem(e, table) for e, table in pairs}
        counts = Counter(wanted.values())
        return {e.name: wanted[e.name] if counts[wanted[e.name]] == 1 else table for e, table in pairs}

    def staging_model(self, stem: str) -> str:
        """``stg_<source>__<entity>``, dbt's staging convention."""
        return self.shorten(f"stg_{self.source_name}__{stem}")

    def bridge_model(self, stem: str, field_stem: str) -> str:
        """``stg_<source>__<entity>__<field>``: one row per link of a multi-entity field."""
        return self.shorten(f"stg_{self.source_name}__{stem}__{field_stem}")

    def entity_key(self, stem: str) -> str:
        """The staging primary key: ``id`` renamed ``<entity>_id`` so joins read ``shot.shot_id = v.shot_id``."""
        return self.shorten(f"{stem}_id")

    def typed_link_id(self, field_stem: str, type_stem: str) -> str:
        """``entity`` + ``shot`` -> ``entity_shot_id``: the id of a polymorphic link when it points at one type."""
        return self.shorten(f"{field_stem}_{type_stem}_id")

    def bridge_owner_key(self, entity_key: str) -> str:
        """The owner's key column in its bridges: the model's key, unless a bridge column has that name."""
        return disambiguate(entity_key, BRIDGE_COLUMNS)


class DisplayNameConvention(NamingConvention):
    """Model names from the entities' display names (``CustomEntity01`` shown as "Episode" ->
    ``stg_shotgrid__episode``), for sites whose custom entities are known by those."""

    def entity_stem(self, entity: Entity, table_name: str) -> str:
        return display_stem(entity.display_name)
