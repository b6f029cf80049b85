"""``SGORM`` and ``SchemaType``: the shotgrid_orm-compatible entry point.

``SGORM(...)`` reads a schema, plans the raw layout and maps one declarative class per entity, so that
``sg_orm["Shot"]``, ``sg_orm.classes["Shot"]``, ``sg_orm.Base.metadata.create_all(engine)`` and
``sg_orm.create_script("sgmodel.py")`` behave as in shotgrid_orm. Differences are deliberate and listed
in the README: table names are snake_case, links are always ``_id`` + ``_type`` pairs, no foreign keys,
and ``metadata`` maps to the attribute ``metadata_``.
"""

from __future__ import annotations

import difflib
import enum
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase

from sg2dbt.core.errors import SchemaError
from sg2dbt.core.layout import RawLayout, plan
from sg2dbt.core.model import Schema
from sg2dbt.emit.metadata import table
from sg2dbt.schema import sources

log = logging.getLogger(__name__)


class SchemaType(enum.Enum):
    JSON_FILE = 1
    JSON_TEXT = 2
    SG_USER = 3
    SG_SCRIPT = 4
    SG_CONNECTION = 5
    MOCKGUN_PICKLE = 6
    SCHEMA = 7  # an sg2dbt.core.model.Schema already in memory


def _connect(kind: SchemaType, params: Any) -> Any:
    """A shotgun_api3 connection from a dict of credentials (never logged or echoed back)."""
    if not isinstance(params, Mapping):
        raise SchemaError(f"{kind.name} needs a dict of connection settings", source="<shotgun site>")
    import shotgun_api3

    url = params.get("url") or params.get("base_url")
    if not url:
        raise SchemaError(f"{kind.name} needs 'url'", source="<shotgun site>")
    if kind is SchemaType.SG_SCRIPT:
        script = params.get("script_name") or params.get("script")
        key = params.get("api_key")
        if not (script and key):
            raise SchemaError("SG_SCRIPT needs 'script_name' and 'api_key'", source=url)
        return shotgun_api3.Shotgun(url, script_name=script, api_key=key,
                                    sudo_as_login=params.get("sudo_as_login"))
    login, password = params.get("login"), params.get("password")
    if not (login and password):
        raise SchemaError("SG_USER needs 'login' and 'password'", source=url)
    return shotgun_api3.Shotgun(url, login=login, password=password, auth_token=params.get("auth_token"))


def read_schema(kind: SchemaType, source: Any) -> tuple[Schema, Any]:
    """The schema from ``source`` as ``kind`` says, and the SG connection when one was made."""
    if kind is SchemaType.JSON_FILE:
        if not isinstance(source, (str, os.PathLike)):
            raise SchemaError(f"JSON_FILE needs a path, got {type(source).__name__}")
        return sources.from_path(source), None
    if kind is SchemaType.JSON_TEXT:
        return sources.from_json_text(source), None
    if kind is SchemaType.MOCKGUN_PICKLE:
        schema_path, entity_path = source
        return sources.from_mockgun_pickles(schema_path, entity_path), None
    if kind is SchemaType.SCHEMA:
        return source, None
    sg = source if kind is SchemaType.SG_CONNECTION else _connect(kind, source)
    return sources.from_connection(sg), sg


class SGORM:
    """Declarative ORM classes for every entity of a ShotGrid schema."""

    def __init__(
        self,
        sg_schema_type: SchemaType = SchemaType.JSON_FILE,
        sg_schema_source: Any = "schema.json",
        ignored_tables: Iterable[str] | None = None,
        ignored_fields: Iterable[str] | None = None,
        echo: bool = False,
        schema: str | None = None,
    ) -> None:
        self.sg_schema_type = sg_schema_type or SchemaType.JSON_FILE
        self.sg_schema_source = sg_schema_source
        self.echo = echo
        self.ignored_tables = list(ignored_tables or [])
        self.ignored_fields = list(ignored_fields or [])
        full, self.sg = read_schema(self.sg_schema_type, sg_schema_source)
        self.schema: Schema = full.filtered(ignore=self.ignored_tables, ignore_fields=self.ignored_fields)
        self.layout: RawLayout = plan(self.schema)

        class Base(DeclarativeBase):
            pass

        self.Base = Base
        self.tables: dict[str, Table] = {}
        self.classes: dict[str, type[Any]] = {}
        for t in self.layout:
            tbl = table(t, Base.metadata, schema)
            self.tables[t.entity.name] = tbl
            doc = t.entity.display_name if t.entity.display_name != t.entity.name else None
            namespace = {"__table__": tbl, "__tablename__": tbl.name, "__doc__": doc}
            self.classes[t.entity.name] = type(t.class_name, (Base,), namespace)
            if echo:
                log.info("mapped %s -> %s (%d columns)", t.entity.name, t.name, len(tbl.columns))

    def __getitem__(self, entity: str) -> type[Any]:
        try:
            return self.classes[str(entity)]
        except KeyError:
            close = difflib.get_close_matches(str(entity), self.classes, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"no entity {entity!r} in the schema{hint}") from None

    def __contains__(self, entity: object) -> bool:
        return entity in self.classes

    def get(self, entity: str, default: Any = None) -> Any:
        return self.classes.get(str(entity), default)

    def create_script(self, path: str | os.PathLike[str]) -> Path:
        """Write a standalone module (``Base``, a class per entity, ``CLASSES``) needing only SQLAlchemy."""
        from sg2dbt.emit.script import write_script

        return write_script(self.layout, path)
