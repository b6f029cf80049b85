"""A page of records converted column by column: the row converter's fast path for whole pages.

Most of a page's values are already in stored form (ints in 64 bits, ASCII or clean text, booleans, UTC
datetimes). Checked one column at a time with C-level builtins (``set(map(type, col))``, ``min``/``max``, one
``join`` of the column's text), such a column costs a few nanoseconds a value instead of an inline check per
value per row; the row tuples are then rebuilt with one ``zip``.

Exactness: a column passes unchanged only when every value in it is one the value rule
(:mod:`sg2dbt.core.values`) returns unchanged; links are split into their two columns once every link of the
column is checked (dicts, int ids in 64 bits, string types), flat JSON values (lists of strings, dicts of
scalars) are encoded by orjson, and the other columns whose rule converts (dates, other JSON) apply the rule to
each value. Anything else (a value to coerce or to refuse, a
record that is not a mapping or lacks a field) makes :func:`convert_page` return None, and the caller converts
that page record by record with :class:`~sg2dbt.core.convert.RowConverter`, which coerces or names the record
and field as ever. So the two give the same rows and the same refusals (tests/core/test_columns.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from sg2dbt.core import values
from sg2dbt.core.typemap import Logical

Column = Sequence[Any]
NONE = type(None)
UTC = dt.timezone.utc
_tzinfo = operator.attrgetter("tzinfo")
_MIN, _MAX = values.BIGINT_MIN, values.BIGINT_MAX
_not_none = functools.partial(operator.is_not, None)
_link_id, _link_type = operator.itemgetter("id"), operator.itemgetter("type")
_int_repr = int.__repr__


class _Declined(Exception):
    """A value this module does not pass: the page goes record by record."""


def _present(col: Column, kinds: set[type]) -> Column:
    """The non-None values of ``col``, whose types must all be in ``kinds``."""
    found = set(map(type, col))
    if not found <= kinds | {NONE}:
        raise _Declined
    return list(filter(_not_none, col)) if NONE in found else col


def _in_place_of(col: Column, present: Column, converted: Column) -> Column:
    """``converted`` (one value for each of ``present``, the non-None values of ``col``) at their places in
    ``col``, None where ``col`` has None."""
    if len(present) == len(col):
        return converted
    found = iter(converted)
    return [None if v is None else next(found) for v in col]


def _ints(col: Column) -> Column:
    present = _present(col, {int})
    if present and (min(present) < _MIN or max(present) > _MAX):
        raise _Declined
    return col


def ids(col: Column) -> Column:
    """Record ids: ints in 64 bits, never None."""
    if NONE in set(map(type, col)):
        raise _Declined
    return _ints(col)


def _doubles(col: Column) -> Column:
    present = _present(col, {float})
    if present and not math.isfinite(sum(present)):   # NaN, ±inf (or a sum beyond a double: declined too)
        raise _Declined
    return col


def _booleans(col: Column) -> Column:
    _present(col, {bool})
    return col


def _text(col: Column) -> Column:
    # the rule refuses exactly the values holding a NUL or a lone surrogate (which strict UTF-8 cannot encode):
    # both are looked for once in the column's joined text; a text of Latin-1 characters (a copy to encode)
    # holds no surrogate
    text = "".join(_present(col, {str}))
    if "\x00" in text:
        raise _Declined
    if not text.isascii():
        try:
            text.encode("latin-1")
        except UnicodeEncodeError:
            try:
                text.encode()
            except UnicodeEncodeError:
                raise _Declined from None
    return col


def _timestamps(col: Column) -> Column:
    present = _present(col, {dt.datetime, str})
    if set(map(type, present)) == {dt.datetime} and set(map(_tzinfo, present)) == {UTC}:
        return col   # aware UTC datetimes: the rule returns them as they are
    return _each(values.to_utc)(col)


def _each(rule: Callable[[Any], Any]) -> Callable[[Column], Column]:
    """The rule applied to every non-None value (its refusal declines the page: the row path names it)."""
    def convert(col: Column) -> Column:
        try:
            return [None if v is None else rule(v) for v in col]
        except (TypeError, ValueError, KeyError, OverflowError, AttributeError, RecursionError):
            raise _Declined from None
    return convert


VALUE_COLUMNS: dict[Logical, Callable[[Column], Column]] = {
    Logical.BIGINT: _ints,
    Logical.DOUBLE: _doubles,
    Logical.BOOLEAN: _booleans,
    Logical.TEXT: _text,
    Logical.TIMESTAMPTZ: _timestamps,
    Logical.DATE: _each(values.to_date),
}


_JSON_LEAVES = {str, int, bool, NONE}


def _flat_json(present: Column) -> bool:
    """Whether every value is a list of strings, or every value a dict of string keys and string, int, bool or
    None values: shapes whose JSON text orjson writes exactly as the rule's encoder does (compact, non-ASCII as
    is, the same escapes; tests/core/test_columns.py), where the rule's Python encoder costs ~1 us a call."""
    kinds = set(map(type, present))
    if kinds == {list}:
        return set(map(type, itertools.chain.from_iterable(present))) <= {str}
    if kinds == {dict}:
        return set(map(type, itertools.chain.from_iterable(present))) <= {str} and \
            set(map(type, itertools.chain.from_iterable(map(dict.values, present)))) <= _JSON_LEAVES
    return False


def _json_texts(col: Column) -> Column:
    """JSON text of each value: orjson for the flat shapes above, the rule for anything else. orjson raises
    for a lone surrogate and for an int past 64 bits; a NUL shows as its escape: the page is declined, and the
    row path refuses or encodes the value with the rule's own message."""
    present = list(filter(_not_none, col))
    if not present or not _flat_json(present):
        return _each(values.json_text)(col)
    try:
        texts: list[str | None] = list(map(bytes.decode, map(orjson.dumps, present)))
    except TypeError:   # orjson.JSONEncodeError
        raise _Declined from None
    if "\\u0000" in "".join(texts):   # type: ignore[arg-type]
        raise _Declined
    return _in_place_of(col, present, texts)   # None stays None (NULL), not JSON's null


def json_column(json_as_text: bool) -> Callable[[Column], Column]:
    return _json_texts if json_as_text else _each(values.json_object)


def links(col: Column) -> tuple[Column, Column]:
    """An entity column as its ids and types columns: every link of the column checked at once (dicts with
    an int id in 64 bits and a string type the text rule stores as it is); None is NULL in both."""
    present = _present(col, {dict})
    if not present:
        return (None,) * len(col), (None,) * len(col)
    try:
        ids, types = list(map(_link_id, present)), list(map(_link_type, present))
    except KeyError:
        raise _Declined from None
    if set(map(type, ids)) != {int} or min(ids) < _MIN or max(ids) > _MAX or set(map(type, types)) != {str}:
        raise _Declined
    _text(types)
    return _in_place_of(col, present, ids), _in_place_of(col, present, types)


def multi_links(col: Column) -> tuple[Column, Column]:
    """A multi-entity column as its ids and types columns: every link of the column checked at once (dicts
    with an int id in 64 bits and a plain type: ASCII, no NUL, no comma); empty lists and None are NULL."""
    lists = _present(col, {list})
    if not any(lists):
        return (None,) * len(col), (None,) * len(col)
    flat = list(itertools.chain.from_iterable(lists))
    if set(map(type, flat)) != {dict}:
        raise _Declined
    try:
        ids, types = list(map(_link_id, flat)), list(map(_link_type, flat))
    except KeyError:
        raise _Declined from None
    joined = ",".join(types) if set(map(type, types)) == {str} else ""
    if set(map(type, ids)) != {int} or min(ids) < _MIN or max(ids) > _MAX or joined.count(",") != len(flat) - 1 \
            or not joined.isascii() or "\x00" in joined:
        raise _Declined
    # each value's share of the flat ids and types, joined with C-level maps (no Python loop a row)
    counts = list(map(len, col if lists is col else [v or () for v in col]))
    id_col: list[str | None] = list(map(",".join, map(itertools.islice, itertools.repeat(map(_int_repr, ids)),
                                                       counts)))
    if types.count(types[0]) == len(types):   # one entity type throughout (often): its runs, made once
        same = {n: ",".join(types[:1] * n) for n in set(counts)}
        type_col: list[str | None] = list(map(same.__getitem__, counts))
    else:
        type_col = list(map(",".join, map(itertools.islice, itertools.repeat(iter(types)), counts)))
    if not all(id_col):   # an empty list or None ('' ids): NULL in both columns
        type_col = [t if i else None for i, t in zip(id_col, type_col, strict=True)]
        id_col = [i or None for i in id_col]
    return id_col, type_col


def convert_page(getter: Callable[[Any], tuple[Any, ...]], page: Sequence[Any],
                 steps: Sequence[tuple[Callable[[Column], Any], bool]], tail: tuple[Any, ...]
                 ) -> list[tuple[Any, ...]] | None:
    """Rows of ``page``: the fields read by ``getter`` (one tuple per record), column ``i`` through
    ``steps[i]`` (a column function, and whether it yields two columns), ``tail`` (constants) appended.
    None when a record or a value is not one this module passes."""
    try:
        fields = list(zip(*map(getter, page), strict=True))
        out: list[Column] = []
        for (step, two), col in zip(steps, fields, strict=True):
            if two:
                out.extend(step(col))
            else:
                out.append(step(col))
    except (_Declined, KeyError, TypeError):
        return None
    n = len(page)
    return list(zip(*out, *([value] * n for value in tail), strict=True))
