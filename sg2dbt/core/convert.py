"""SG records (``find()``-shaped dicts) to raw-table rows: the one conversion `sg2dbt load` and SGORM.to_row share.

Driven only by the :class:`~sg2dbt.core.layout.RawTable`: which fields are read, which columns they fill and how
each value is converted come from the layout's roles and logical types, never from a name derived here.

Speed matters (a million records, ~70 columns each), so a row is built by a function compiled once per table
(:class:`RowConverter`); only when that fails is the record walked again, field by field, with the strict
converters, to name the field that did not fit (:class:`~sg2dbt.core.errors.ValueFitError`).
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from typing import Any

from sg2dbt.core import columns, values
from sg2dbt.core.errors import ValueFitError
from sg2dbt.core.layout import RawColumn, RawTable, Role
from sg2dbt.core.typemap import STORAGE, Logical, Shape

Record = Mapping[str, Any]
Row = tuple[Any, ...]

_link_id = operator.itemgetter("id")
_link_type = operator.itemgetter("type")


def _convert_name(logical: Logical) -> str:
    """The name under which a logical type's value rule is bound in the compiled converter's namespace."""
    return f"_to_{logical.value}"


# Fast-path expressions of the columns that are not one logical type's value (a logical type's own is its
# type map record's ``fast_path``): over the local variable {v}, stricter than the rule in core/values.py, never
# looser.
_FAST_ID = "({v} if type({v}) is int and _MIN <= {v} <= _MAX else _id({v}))"
_FAST_LINK = ("*(_NONE2 if {v} is None else ({v}['id'], {v}['type']) if type({v}) is dict "
              "and type({v}.get('id')) is int and _MIN <= {v}['id'] <= _MAX and type({v}.get('type')) is str "
              "and {v}['type'].isascii() and '\\x00' not in {v}['type'] else _link({v}))")
_FAST_LINKS = ("*(_NONE2 if {v} is None or {v} == [] else (','.join(map(_int_repr, _i)), _t) "
               "if type({v}) is list and (_t := ','.join(map(_link_type, {v}))).count(',') == len({v}) - 1 "
               "and _t.isascii() and '\\x00' not in _t and set(map(type, _i := list(map(_link_id, {v})))) == _INTS "
               "and _MIN <= min(_i) and max(_i) <= _MAX else _links({v}))")
_NAMESPACE = {**{_convert_name(logical): record.convert for logical, record in STORAGE.items()},
              "_json_object": values.json_object, "_link": values.link,
              "_links": values.links, "_id": values.to_id, "_NONE2": (None, None), "_INTS": {int},
              "_MIN": values.BIGINT_MIN, "_MAX": values.BIGINT_MAX, "_int_repr": int.__repr__,
              "_link_id": _link_id, "_link_type": _link_type}


class RowConverter:
    """Turns records of one entity into row tuples whose order is :attr:`columns`.

    The per-record function is compiled once per table from the layout (one expression per field, as
    :mod:`dataclasses` and :func:`collections.namedtuple` do): a flat tuple display with inline type checks
    converts a wide record several times faster than a loop of function calls, and conversion is most of
    the loader's CPU time.
    """

    def __init__(self, table: RawTable, *, json_as_text: bool = True) -> None:
        self.table = table
        checks: list[tuple[str, Callable[[Any], Any]]] = []
        templates: list[str] = []
        steps: list[tuple[Callable[[Any], Any], bool]] = []   # the column-wise path (rows()), field by field
        value_cols: list[RawColumn] = []
        link_cols: list[RawColumn] = []
        # value fields first (id leads: the model orders it first), then link fields
        readable = [(n, rf) for n, rf in table.fields.items() if rf.columns]   # pivot columns have none
        readable.sort(key=lambda item: item[1].shape in (Shape.ENTITY, Shape.MULTI_ENTITY))
        for name, rf in readable:
            if rf.shape is Shape.ENTITY:
                link_cols += [rf.column(Role.LINK_ID), rf.column(Role.LINK_TYPE)]
                checks.append((name, values.link))
                templates.append(_FAST_LINK)
                steps.append((columns.links, True))
            elif rf.shape is Shape.MULTI_ENTITY:
                link_cols += [rf.column(Role.LINK_IDS), rf.column(Role.LINK_TYPE)]
                checks.append((name, values.links))
                templates.append(_FAST_LINKS)
                steps.append((columns.multi_links, True))
            else:
                col = rf.column(Role.ID) if name == "id" else rf.column(Role.VALUE)
                value_cols.append(col)
                as_object = col.logical is Logical.JSON and not json_as_text   # SGORM: a Python value
                conv = values.to_id if name == "id" else values.json_object if as_object \
                    else STORAGE[col.logical].convert
                checks.append((name, conv))
                templates.append(_FAST_ID if name == "id" else STORAGE[col.logical].fast_path.format(
                    v="{v}", convert="_json_object" if as_object else _convert_name(col.logical)))
                steps.append((columns.ids if name == "id" else columns.json_column(json_as_text)
                               if col.logical is Logical.JSON else columns.VALUE_COLUMNS[col.logical], False))
        bookkeeping = sorted((c for c in table.columns if c.role in (Role.RETIRED, Role.LOADED_AT)),
                             key=lambda c: c.role is Role.LOADED_AT)
        self.columns: tuple[RawColumn, ...] = (*value_cols, *link_cols, *bookkeeping)
        self.fields: tuple[str, ...] = tuple(n for n, _ in checks)
        self._checks = tuple(checks)
        names = [f"_{i}" for i in range(len(checks))]
        exprs = [t.format(v=v) for t, v in zip(templates, names, strict=True)]
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
        self._steps = tuple(steps)

    def rows(self, page: list[Record], retired: bool, loaded_at: dt.datetime) -> list[Row]:
        """``[self.row(r, retired, loaded_at) for r in page]``, column by column where every value allows
        (:mod:`sg2dbt.core.columns`: about twice as fast); else record by record, with the same refusals."""
        if not page:
            return []
        rows = columns.convert_page(self._values, page, self._steps, (retired, loaded_at))
        return rows if rows is not None else [self.row(r, retired, loaded_at) for r in page]

    def row(self, record: Record, retired: bool, loaded_at: dt.datetime) -> Row:
        try:
            try:
                values = self._values(record)
            except KeyError:
                values = tuple(map(record.get, self.fields))
            return self._fast(values, retired, loaded_at)
        except (TypeError, ValueError, KeyError, OverflowError, AttributeError, RecursionError):
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
            except (TypeError, ValueError, KeyError, OverflowError, RecursionError) as exc:
                detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
                return ValueFitError(entity, rid, name, detail)
        return None


def _record_id(record: Any) -> Any:
    return record.get("id") if isinstance(record, Mapping) else None
