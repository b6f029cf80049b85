"""SG records (``find()``-shaped dicts) to raw-table rows.

Driven only by the :class:`~sg2dbt.core.layout.RawTable`: which fields are read, which columns they fill and how
each value is converted come from the layout's roles and logical types, never from a name derived here.

Speed matters (a million records, ~70 columns each), so a row is built by a function compiled once per table
(:class:`RowConverter`); only when that fails is the record walked again, field by field, with the strict
converters, to name the field that did not fit (:class:`~sg2dbt.core.errors.ValueFitError`).
"""

from __future__ import annotations

import datetime as dt
import json
import operator
from collections.abc import Callable, Mapping
from typing import Any

from sg2dbt.core.errors import ValueFitError
from sg2dbt.core.layout import RawColumn, RawTable, Role
from sg2dbt.core.typemap import Logical, Shape

UTC = dt.timezone.utc
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1

Record = Mapping[str, Any]
Row = tuple[Any, ...]


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_default)


def json_text(value: Any) -> str:
    """SG's JSON-ish values (url dicts, tag lists, serializable blobs) as compact JSON text."""
    return _ENCODER.encode(value)


def _text(value: Any) -> str:
    # Text columns take strings as they are; anything else SG hands us (a summary or an unknown data type
    # returning a number or a dict) is kept losslessly as its JSON text rather than refused. A NUL character
    # fits no PostgreSQL text column: refused here, by name, rather than failing a whole COPY anonymously.
    text = value if type(value) is str else json_text(value)
    if "\x00" in text:
        raise ValueError("text contains a NUL character, which the warehouse cannot store")
    return text


def _bigint(value: Any) -> int:
    if type(value) is int:
        if _BIGINT_MIN <= value <= _BIGINT_MAX:
            return value
        raise ValueError(f"integer {value} is outside the 64-bit range")
    if type(value) is float and value.is_integer():
        return int(value)
    raise TypeError(f"expected an integer, got {type(value).__name__} {value!r:.80}")


def _double(value: Any) -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise TypeError(f"expected a number, got {type(value).__name__} {value!r:.80}")


def _boolean(value: Any) -> bool:
    if type(value) is bool:
        return value
    raise TypeError(f"expected true/false, got {type(value).__name__} {value!r:.80}")


def _date(value: Any) -> dt.date:
    if type(value) is str:
        return dt.date.fromisoformat(value)
    if type(value) is dt.date:
        return value
    raise TypeError(f"expected a 'YYYY-MM-DD' date, got {type(value).__name__} {value!r:.80}")


def to_utc(value: Any) -> dt.datetime:
    """SG datetimes as aware UTC: aware values converted, naive ones taken as UTC (what shotgun_api3 returns
    with ``convert_datetimes_to_utc=False``), strings parsed ('2008-06-11 08:48:54+02:00', '...Z')."""
    if isinstance(value, str):
        # Python 3.10's fromisoformat does not read a 'Z' suffix; SG's REST API and many exports write one.
        value = dt.datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a date and time, got {type(value).__name__} {value!r:.80}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _json_object(value: Any) -> Any:
    # Portable writers hand JSON to SQLAlchemy's JSON type, which serialises plain Python objects only.
    return json.loads(json_text(value))


_VALUE_CONVERTERS: dict[Logical, Callable[[Any], Any]] = {
    Logical.TEXT: _text,
    Logical.BIGINT: _bigint,
    Logical.DOUBLE: _double,
    Logical.BOOLEAN: _boolean,
    Logical.DATE: _date,
    Logical.TIMESTAMPTZ: to_utc,
    Logical.JSON: json_text,
}


def _link(value: Any) -> tuple[int, str]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an entity link {{'type', 'id'}}, got {type(value).__name__} {value!r:.80}")
    return _bigint(value["id"]), _text(value["type"])


_link_id = operator.itemgetter("id")
_link_type = operator.itemgetter("type")


_int_repr = int.__repr__   # str() of an int, and a TypeError for anything that is not one


def _links(value: Any) -> tuple[str | None, str | None]:
    """Comma-separated ids and aligned types, in SG's order; an empty list is NULL in both columns.

    Written with C-level map/join (the fast path inlines the same expression), because multi-entity fields
    are the costliest part of a record.
    """
    if type(value) is not list:
        raise TypeError(f"expected a list of entity links, got {type(value).__name__} {value!r:.80}")
    if not value:
        return None, None
    types = ",".join(map(_link_type, value))
    if types.count(",") != len(value) - 1:
        raise ValueError(f"an entity type in {types!r:.80} contains a comma")
    try:
        return ",".join(map(_int_repr, map(_link_id, value))), types
    except TypeError:
        raise TypeError(f"entity link ids must be integers, got {value!r:.80}") from None


# Fast-path expressions per column kind, over the local variable {v} holding the field's value: the common,
# already-right value passes with a type check and no call; anything else goes through the strict converter
# above, which converts or raises.
_FAST: dict[Logical, str] = {
    Logical.TEXT: "({v} if {v} is None or type({v}) is str and '\\x00' not in {v} else _text({v}))",
    Logical.BIGINT: "({v} if {v} is None or type({v}) is int and _MIN <= {v} <= _MAX else _bigint({v}))",
    Logical.DOUBLE: "({v} if {v} is None or type({v}) is float else _double({v}))",
    Logical.BOOLEAN: "({v} if {v} is None or type({v}) is bool else _boolean({v}))",
    Logical.DATE: "(None if {v} is None else _date({v}))",
    Logical.TIMESTAMPTZ: "(None if {v} is None else to_utc({v}))",
    Logical.JSON: "(None if {v} is None else {json}({v}))",
}
_FAST_ID = "({v} if type({v}) is int and _MIN <= {v} <= _MAX else _bigint({v}))"
_FAST_LINK = ("*(_NONE2 if {v} is None else ({v}['id'], {v}['type']) if type({v}) is dict "
              "and type({v}.get('id')) is int and type({v}.get('type')) is str else _link({v}))")
_FAST_LINKS = ("*(_NONE2 if {v} is None or {v} == [] else (','.join(map(_int_repr, map(_link_id, {v}))), _t) "
               "if type({v}) is list and (_t := ','.join(map(_link_type, {v}))).count(',') == len({v}) - 1 "
               "else _links({v}))")
_NAMESPACE = {"_text": _text, "_bigint": _bigint, "_double": _double, "_boolean": _boolean, "_date": _date,
              "to_utc": to_utc, "json_text": json_text, "_json_object": _json_object, "_link": _link,
              "_links": _links, "_NONE2": (None, None), "_MIN": _BIGINT_MIN, "_MAX": _BIGINT_MAX,
              "_int_repr": _int_repr, "_link_id": _link_id, "_link_type": _link_type}


class RowConverter:
    """Turns records of one entity into row tuples whose order is :attr:`columns`.

    The per-record function is compiled once per table from the layout (one expression per field, as
    :mod:`dataclasses` and :func:`collections.namedtuple` do): a flat tuple display with inline type checks
    converts a wide record several times faster than a loop of function calls, and conversion is most of
    the loader's CPU time.
    """

    def __init__(self, table: RawTable, *, json_as_text: bool = True) -> None:
        self.table = table
        json_fn = "json_text" if json_as_text else "_json_object"
        checks: list[tuple[str, Callable[[Any], Any]]] = []
        templates: list[str] = []
        value_cols: list[RawColumn] = []
        link_cols: list[RawColumn] = []
        # value fields first (id leads: the model orders it first), then link fields
        readable = [(n, rf) for n, rf in table.fields.items() if rf.columns]   # pivot columns have none
        readable.sort(key=lambda item: item[1].shape in (Shape.ENTITY, Shape.MULTI_ENTITY))
        for name, rf in readable:
            if rf.shape is Shape.ENTITY:
                link_cols += [rf.column(Role.LINK_ID), rf.column(Role.LINK_TYPE)]
                checks.append((name, _link))
                templates.append(_FAST_LINK)
            elif rf.shape is Shape.MULTI_ENTITY:
                link_cols += [rf.column(Role.LINK_IDS), rf.column(Role.LINK_TYPE)]
                checks.append((name, _links))
                templates.append(_FAST_LINKS)
            else:
                col = rf.column(Role.ID) if name == "id" else rf.column(Role.VALUE)
                value_cols.append(col)
                conv = _json_object if col.logical is Logical.JSON and not json_as_text \
                    else _VALUE_CONVERTERS[col.logical]
                checks.append((name, conv))
                templates.append(_FAST_ID if name == "id" else _FAST[col.logical])
        bookkeeping = sorted((c for c in table.columns if c.role in (Role.RETIRED, Role.LOADED_AT)),
                             key=lambda c: c.role is Role.LOADED_AT)
        self.columns: tuple[RawColumn, ...] = (*value_cols, *link_cols, *bookkeeping)
        self.fields: tuple[str, ...] = tuple(n for n, _ in checks)
        self._checks = tuple(checks)
        names = [f"_{i}" for i in range(len(checks))]
        exprs = [t.format(v=v, json=json_fn) for t, v in zip(templates, names, strict=True)]
        source = (f"def _row(_values, retired, loaded_at):\n    {', '.join(names)}, = _values\n"
                  f"    return ({', '.join([*exprs, 'retired', 'loaded_at'])})\n")
        namespace = dict(_NAMESPACE)
        exec(compile(source, f"<sg2dbt row converter {table.entity.name}>", "exec"), namespace)
        self._fast: Callable[..., Row] = namespace["_row"]  # type: ignore[assignment]
        # SG returns every requested field, so one C-level itemgetter call reads them all; a dump may omit
        # some, and then the record is read with .get (missing = None).
        getter = operator.itemgetter(*self.fields)
        self._values: Callable[[Record], tuple[Any, ...]] = (
            getter if len(self.fields) > 1 else lambda r: (getter(r),))

    def row(self, record: Record, retired: bool, loaded_at: dt.datetime) -> Row:
        try:
            try:
                values = self._values(record)
            except KeyError:
                values = tuple(map(record.get, self.fields))
            return self._fast(values, retired, loaded_at)
        except (TypeError, ValueError, KeyError, OverflowError, AttributeError):
            raise self.explain(record) or ValueFitError(
                self.table.entity.name, _record_id(record), "*", "record could not be converted") from None

    def explain(self, record: Any) -> ValueFitError | None:
        """Why ``record`` cannot be stored, naming entity, id and field; None if every field converts.

        Also used when the database refuses a page, to name the record behind the refusal.
        """
        entity = self.table.entity.name
        if not isinstance(record, Mapping):
            return ValueFitError(entity, None, "*", f"record is a {type(record).__name__}, not a mapping")
        rid = record.get("id")
        for name, conv in self._checks:
            v = record.get(name)
            if v is None:
                if name == "id":
                    return ValueFitError(entity, rid, name, "record has no id")
                continue
            try:
                conv(v)
            except (TypeError, ValueError, KeyError, OverflowError) as exc:
                detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
                return ValueFitError(entity, rid, name, detail)
        return None


def _record_id(record: Any) -> Any:
    return record.get("id") if isinstance(record, Mapping) else None
