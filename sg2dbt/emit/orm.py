"""``SGORM`` and ``SchemaType``: the shotgrid_orm-compatible entry point.

``SGORM(...)`` reads a schema, plans the raw layout and maps one declarative class per entity, so that
``sg_orm["Shot"]``, ``sg_orm.classes["Shot"]``, ``sg_orm.Base.metadata.create_all(engine)`` and
``sg_orm.create_script("sgmodel.py")`` behave as in shotgrid_orm. Differences are deliberate and listed
in the README: table names are snake_case, links are always ``_id`` + ``_type`` pairs, no foreign keys,
and ``metadata`` maps to the attribute ``metadata_``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import enum
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.orm import DeclarativeBase, Session

from sg2dbt.core.errors import SchemaError
from sg2dbt.core.layout import RawLayout, RawTable, Role, plan
from sg2dbt.core.model import Schema
from sg2dbt.core.secrets import register_secret
from sg2dbt.core.typemap import Shape
from sg2dbt.emit.metadata import table
from sg2dbt.schema import sources
from sg2dbt.schema.connect import Credentials, connect

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
    """A shotgun_api3 connection from shotgrid_orm's dict of credentials, built as every command builds one
    (:func:`sg2dbt.schema.connect.connect`: a socket timeout, the secrets kept out of every log line)."""
    if not isinstance(params, Mapping):
        raise SchemaError(f"{kind.name} needs a dict of connection settings", source="<shotgun site>")
    url = params.get("url") or params.get("base_url")
    if not url:
        raise SchemaError(f"{kind.name} needs 'url'", source="<shotgun site>")
    if kind is SchemaType.SG_SCRIPT:
        script = params.get("script_name") or params.get("script")
        key = params.get("api_key")
        if not (script and key):
            raise SchemaError("SG_SCRIPT needs 'script_name' and 'api_key'", source=url)
        register_secret(key)
        return connect(Credentials(url=url, script=script, api_key=key, sudo_as_login=params.get("sudo_as_login")),
                       fast_replies=False)
    login, password = params.get("login"), params.get("password")
    if not (login and password):
        raise SchemaError("SG_USER needs 'login' and 'password'", source=url)
    register_secret(password)
    return connect(Credentials(url=url, login=login, password=password, auth_token=params.get("auth_token")),
                   fast_replies=False)


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
    """Declarative ORM classes for every entity of a ShotGrid schema.

    The attributes shotgrid_orm documents are here under the same names: ``Base``, ``classes``, ``tables``,
    ``sg`` (the connection, when one was made), ``sg_schema`` (the parsed schema), ``engine`` and
    ``session`` (an in-memory SQLite database holding the tables, made on first use), ``echo`` and
    :meth:`create_script`. :meth:`to_row` and :meth:`from_sg` turn a ``find()`` record into a row or an
    instance exactly as ``sg2dbt load`` converts it.
    """

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
        self._engine: Engine | None = None
        self._session: Session | None = None
        self._converters: dict[str, Any] = {}

        class Base(DeclarativeBase):
            pass

        self.Base = Base
        self.tables: dict[str, Table] = {}
        self.classes: dict[str, type[Any]] = {}
        for t in self.layout:
            tbl = table(t, Base.metadata, schema, orm=True)
            self.tables[t.entity.name] = tbl
            doc = t.entity.display_name if t.entity.display_name != t.entity.name else None
            namespace: dict[str, Any] = {"__table__": tbl, "__tablename__": tbl.name, "__doc__": doc}
            namespace.update(_sg_attributes(t))
            self.classes[t.entity.name] = type(t.class_name, (Base,), namespace)
            self.info(f"TABLE {t.entity.name} -> {tbl.name} ({len(tbl.columns)} columns)")

    @property
    def sg_schema(self) -> Schema:
        """The schema the classes were made from (sg2dbt's parsed model: ``sg_schema["Shot"].fields``)."""
        return self.schema

    @property
    def engine(self) -> Engine:
        """An in-memory SQLite engine holding every table (``echo`` as given), as shotgrid_orm makes one."""
        if self._engine is None:
            from sqlalchemy import create_engine

            self._engine = create_engine("sqlite+pysqlite:///:memory:", echo=self.echo)
            self.Base.metadata.create_all(self._engine)
        return self._engine

    @property
    def session(self) -> Session:
        """A session on :attr:`engine`."""
        if self._session is None:
            self._session = Session(self.engine)
        return self._session

    def info(self, message: str) -> None:
        """Print ``message`` when ``echo`` is on (shotgrid_orm's echo prints what it maps), and log it."""
        log.info("%s", message)
        if self.echo:
            print(message)

    def __getitem__(self, entity: str) -> type[Any]:
        """The class of ``entity``; an unknown name raises KeyError with the closest names (shotgrid_orm
        returns None, which fails later and further away; :meth:`get` returns None)."""
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

    def to_row(self, entity: str, record: Mapping[str, Any], *, retired: bool = False) -> dict[str, Any]:
        """A ``find()`` record of ``entity`` as ``{attribute: value}``, converted by the row converter
        ``sg2dbt load`` uses (links split into ``_id``/``_type``, multi-links joined, dates parsed, datetimes in UTC,
        bookkeeping columns filled). A value that does not fit raises ValueFitError naming entity, id and
        field. Use it with ``insert(Shot)`` / ``session.execute(insert(Shot), rows)`` or ``Shot(**row)``.
        """
        converter = self._converters.get(entity)
        if converter is None:
            from sg2dbt.core.convert import RowConverter

            raw = self.layout.table_for(entity)
            if raw is None:
                self[entity]   # raises KeyError naming the close matches
            converter = self._converters[entity] = RowConverter(raw, json_as_text=False)  # type: ignore[arg-type]
        values = converter.row(record, retired, dt.datetime.now(dt.timezone.utc))
        return {c.attr: v for c, v in zip(converter.columns, values, strict=True)}

    def from_sg(self, entity: str, record: Mapping[str, Any], *, retired: bool = False) -> Any:
        """A new instance of ``entity``'s class from a ``find()`` record (see :meth:`to_row`)."""
        return self[entity](**self.to_row(entity, record, retired=retired))

    def create_script(self, out_script: str | os.PathLike[str] = "sgmodel.py", generator_class: Any = None) -> Path:
        """Write a standalone module (``Base``, a class per entity, ``CLASSES``) needing only SQLAlchemy.

        ``generator_class`` (shotgrid_orm's sqlacodegen generator) is not supported: sg2dbt renders the module
        itself, so that it keeps ``autoincrement=False`` and the column names sqlacodegen would rename.
        """
        if generator_class is not None:
            raise TypeError("create_script(generator_class=...) is not supported: sg2dbt writes the module "
                            "from its own template (see the README's shotgrid_orm table)")
        from sg2dbt.emit.script import write_script

        return write_script(self.layout, out_script)


def _sg_attributes(t: RawTable) -> dict[str, Any]:
    """The class attributes beyond the columns: shotgrid_orm's aliases (``_metadata``) and SG-shaped link
    attributes (``shot.project = {'type': 'Project', 'id': 1}``)."""
    from sqlalchemy.orm import synonym

    from sg2dbt.emit.ormsupport import _sg_link, _sg_links

    extra: dict[str, Any] = {alias: synonym(attr) for alias, attr in t.aliases.items()}
    for attr, rf in t.link_attributes.items():
        doc = rf.field.description or rf.field.display_name or None
        if rf.shape is Shape.ENTITY:
            extra[attr] = _sg_link(rf.column(Role.LINK_ID).attr, rf.column(Role.LINK_TYPE).attr, doc)
        else:
            extra[attr] = _sg_links(rf.column(Role.LINK_IDS).attr, rf.column(Role.LINK_TYPE).attr, doc)
    return extra
