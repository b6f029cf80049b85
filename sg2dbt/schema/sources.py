"""Read a ShotGrid schema from any of the places one lives, into one :class:`~sg2dbt.core.model.Schema`.

Two JSON shapes exist in the wild and both are accepted:

* the *seed* shape, ``{Entity: {"name": {"value": ...}, ..., "fields": {field: spec}}}``, and
* the raw ``schema_read()`` shape, ``{Entity: {field: spec}}``, optionally with a separate
  ``schema_entity_read()`` document for display names.

The shape is detected per document: an entity value holding a ``fields`` mapping is the seed shape.
Older dumps lack keys such as ``visible`` or ``custom_metadata``; only ``data_type`` is required.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sg2dbt.core.errors import SchemaError
from sg2dbt.core.model import Entity, Field, Schema


def _value(spec: Any, key: str, default: Any = None) -> Any:
    """SG wraps most properties as ``{"value": x, "editable": b}``; some dumps store ``x`` bare."""
    if not isinstance(spec, Mapping) or key not in spec:
        return default
    item = spec[key]
    if isinstance(item, Mapping) and "value" in item:
        return item["value"] if item["value"] is not None else default
    return item if item is not None else default


def _text(value: Any) -> str:
    """SG text as a ``str`` that every output can encode: a lone surrogate (a legal JSON escape that no UTF-8
    file can hold) becomes U+FFFD instead of failing the YAML or Python writer later."""
    return str(value).encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _bad_name(name: Any) -> bool:
    """Names must be non-empty text; one with a lone surrogate could never be sent back to SG."""
    return not isinstance(name, str) or not name or _text(name) != name


def _str_list(value: Any, *, source: str, entity: str, field: str, what: str) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise SchemaError(f"{what} must be a list of strings, got {value!r}",
                          source=source, entity=entity, field=field)
    return tuple(_text(v) for v in value)


def _valid_values(value: Any, *, source: str, entity: str, field: str) -> tuple[str, ...]:
    """SG lists values of list/status_list fields; dumps hold strings, sometimes numbers or nulls."""
    if value in (None, ""):
        return ()
    if not isinstance(value, (list, tuple)):
        raise SchemaError(f"valid_values must be a list, got {value!r}", source=source, entity=entity,
                          field=field)
    return tuple(_text(v) for v in value if v is not None)


def _field(entity: str, name: str, spec: Any, source: str) -> Field:
    if _bad_name(name):
        raise SchemaError("field names must be non-empty strings of valid Unicode", source=source, entity=entity,
                          field=name)
    if not isinstance(spec, Mapping):
        raise SchemaError(f"field spec must be an object, got {type(spec).__name__}",
                          source=source, entity=entity, field=name)
    data_type = _value(spec, "data_type")
    if not isinstance(data_type, str) or not data_type:
        raise SchemaError("field has no data_type", source=source, entity=entity, field=name)
    props = spec.get("properties") or {}
    if not isinstance(props, Mapping):
        raise SchemaError("'properties' must be an object", source=source, entity=entity, field=name)
    summary = _value(props, "summary_default")
    return Field(
        entity=entity,
        name=name,
        data_type=data_type,
        display_name=_text(_value(spec, "name", "") or ""),
        description=_text(_value(spec, "description", "") or ""),
        valid_types=_str_list(_value(props, "valid_types"), source=source, entity=entity, field=name,
                              what="valid_types"),
        valid_values=_valid_values(_value(props, "valid_values"), source=source, entity=entity, field=name),
        mandatory=bool(_value(spec, "mandatory", False)),
        unique=bool(_value(spec, "unique", False)),
        editable=bool(_value(spec, "editable", True)),
        summary_default=summary if isinstance(summary, str) else None,
    )


def _fields(entity: str, specs: Any, source: str) -> list[Field]:
    if not isinstance(specs, Mapping):
        raise SchemaError(f"'fields' must be an object, got {type(specs).__name__}", source=source, entity=entity)
    return [_field(entity, name, spec, source) for name, spec in specs.items()]


def _entity_display(entity_doc: Any) -> str:
    name = _value(entity_doc, "name", "")
    return _text(name) if isinstance(name, str) else ""


def is_seed_shape(doc: Mapping[str, Any]) -> bool:
    """True for the seed shape (each entity holds a ``fields`` mapping), False for raw ``schema_read()``.

    A raw entity may have a field called ``fields``: its value is one field spec (it has ``data_type``),
    not a mapping of specs, so it does not make the document look like the seed shape.
    """
    return any(isinstance(v, Mapping) and isinstance(v.get("fields"), Mapping) and "data_type" not in v["fields"]
               for v in doc.values())


def from_dict(doc: Any, *, source: str = "<memory>", entity_doc: Mapping[str, Any] | None = None) -> Schema:
    """Build a schema from an already-parsed document of either shape."""
    if not isinstance(doc, Mapping):
        raise SchemaError(f"top level must be an object of entities, got {type(doc).__name__}", source=source)
    if entity_doc is not None and not isinstance(entity_doc, Mapping):
        raise SchemaError("the entity document must be an object of entities", source=source)
    seed = is_seed_shape(doc)
    entities = []
    for name, body in doc.items():
        if _bad_name(name):
            raise SchemaError("entity names must be non-empty strings of valid Unicode", source=source, entity=name)
        if not isinstance(body, Mapping):
            raise SchemaError(f"entity must be an object, got {type(body).__name__}", source=source, entity=name)
        if seed:
            if "fields" not in body:
                raise SchemaError("entity has no 'fields'", source=source, entity=name)
            fields = _fields(name, body["fields"], source)
            display = _entity_display(body)
        else:
            fields = _fields(name, body, source)
            display = ""
        if entity_doc is not None and name in entity_doc:
            display = _entity_display(entity_doc[name]) or display
        if not any(f.name == "id" for f in fields):
            # Every SG entity has an id; a dump without it is still loadable, the raw layer adds the key.
            fields.append(Field(entity=name, name="id", data_type="number", display_name="Id"))
        entities.append(Entity.of(name, display, fields))
    if not entities:
        raise SchemaError("schema holds no entities", source=source)
    return Schema.of(entities, source=source)


def _schema_file(path: str | os.PathLike[str]) -> Path:
    """``path`` if it is a readable kind of file; a missing path or a directory is a SchemaError naming it."""
    p = Path(path)
    if not p.is_file():
        raise SchemaError("schema file not found" if not p.exists() else "not a file", source=str(p))
    return p


def _read_json(path: str | os.PathLike[str]) -> Any:
    p = _schema_file(path)
    try:
        # utf-8-sig: files saved by Windows editors start with a byte-order mark.
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SchemaError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", source=str(p)) from None
    except OSError as exc:  # unreadable: permissions, I/O errors
        raise SchemaError(f"cannot read the file: {exc.strerror or exc}", source=str(p)) from None
    return _parse_json(text, str(p))


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                          source=source) from None
    except RecursionError:
        raise SchemaError("invalid JSON: nested too deeply", source=source) from None


def from_json_file(path: str | os.PathLike[str], entity_path: str | os.PathLike[str] | None = None) -> Schema:
    """Read a seed-shape or raw ``schema_read()`` JSON file (plus an optional ``schema_entity_read()`` file)."""
    entity_doc = _read_json(entity_path) if entity_path is not None else None
    return from_dict(_read_json(path), source=str(path), entity_doc=entity_doc)


def from_json_text(text: str) -> Schema:
    return from_dict(_parse_json(text, "<json text>"), source="<json text>")


def from_connection(sg: Any, *, source: str | None = None) -> Schema:
    """Read a live site through an existing ``shotgun_api3.Shotgun`` (or Mockgun) connection.

    Two calls, ``schema_read()`` and ``schema_entity_read()``, rather than one per entity: a 100-entity
    site answers in seconds instead of minutes.
    """
    label = source or str(getattr(sg, "base_url", None) or "<shotgun connection>")
    return from_dict(sg.schema_read(), source=label, entity_doc=sg.schema_entity_read())


def from_mockgun_pickles(schema_path: str | os.PathLike[str], entity_path: str | os.PathLike[str]) -> Schema:
    """Read the pickle pair that ``shotgun_api3.lib.mockgun.generate_schema`` writes (trusted local files)."""
    docs = []
    for path in (schema_path, entity_path):
        p = _schema_file(path)
        try:
            with p.open("rb") as fh:
                docs.append(pickle.load(fh))
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same to the user
            raise SchemaError(f"not a Mockgun schema pickle ({type(exc).__name__}: {exc})", source=str(p)) from None
    return from_dict(docs[0], source=str(schema_path), entity_doc=docs[1])


def from_path(path: str | os.PathLike[str], entity_path: str | os.PathLike[str] | None = None) -> Schema:
    """What the CLI's ``--schema`` takes: a JSON file, or a ``.pickle`` whose entity pickle sits beside it."""
    p = Path(path)
    if p.suffix == ".pickle":
        if entity_path:
            return from_mockgun_pickles(p, entity_path)
        ep = p.with_name(p.stem + "_entity.pickle")
        if p.is_file() and not ep.is_file():
            # Named after the file the user typed: the entity pickle's name is one they never wrote.
            raise SchemaError(f"a Mockgun schema pickle needs its entity pickle beside it ({ep.name} is "
                              f"missing), or give it with --entity-schema FILE", source=str(path))
        return from_mockgun_pickles(p, ep)
    return from_json_file(p, entity_path)
