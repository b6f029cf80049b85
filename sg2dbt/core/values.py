"""The value rules: what each logical type of the raw layer accepts, coerces and refuses.

ONE function per logical type (plus the link shapes), used by every writer on every dialect, so a value is
stored the same way, or refused the same way, whatever the warehouse: a value the staging layer will cast
later (ids, link ids, booleans, text) is checked here, never left for one database to accept and another
to refuse. The row converter's fast path (:mod:`sg2dbt.core.convert`) only lets through values that
these functions would return unchanged; everything else is handed to them.

Coercions are lossless only (the type map's ``coerce`` notes point here; docs/loader.md lists them):

* BIGINT (number, duration, percent, timecode, integer summaries): an int in the signed 64-bit range; a
  float or a numeric string ('12', '-3', '12.0', '1e3') whose value is exactly such an integer.
* DOUBLE (float, currency, average/sum summaries): a finite float; an int that a double holds exactly; a
  numeric string whose nearest double reads back as the same number ('0.25', '12', '-1.5e3').
* BOOLEAN (checkbox): a bool; the strings 'true' and 'false' (any case).
* TEXT: a string without NUL or lone surrogates (no warehouse stores them); a number, bool, list or dict
  (a summary or an unknown data type) as its JSON text.
* JSON: any JSON-encodable value without NUL, lone surrogates or non-finite floats.
* Record ids and link ids: ints in the 64-bit range, never bools, floats or strings (SG never sends them).

Anything else raises ``TypeError`` or ``ValueError`` with a one-line reason; the converter adds entity, id
and field (:class:`sg2dbt.core.errors.ValueFitError`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
from collections.abc import Mapping
from typing import Any

UTC = dt.timezone.utc
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")   # no '_', no spaces, no inf/nan
_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default)


def _storable(text: str) -> str:
    if "\x00" in text:
        raise ValueError("text contains a NUL character, which the warehouse cannot store")
    if not text.isascii() and _SURROGATE.search(text):
        raise ValueError("text contains a lone surrogate (invalid Unicode), which the warehouse cannot store")
    return text


def json_text(value: Any) -> str:
    """SG's JSON-ish values (url dicts, tag lists, serializable blobs) as compact JSON text.

    NaN and infinities are refused (JSON has no spelling for them); a NUL inside any string (written as
    the escape ``\\u0000``, which PostgreSQL's jsonb refuses) is refused too.
    """
    text = _ENCODER.encode(value)
    if "\\u0000" in text and _holds_nul(value):
        raise ValueError("JSON value contains a NUL character, which the warehouse cannot store")
    return _storable(text)


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(map(_holds_nul, value))
    return False


def to_text(value: Any) -> str:
    """TEXT: strings as they are; anything else SG hands us (a summary or an unknown data type returning a
    number or a dict) is kept losslessly as its JSON text rather than refused."""
    return _storable(value) if type(value) is str else json_text(value)


def to_id(value: Any) -> int:
    """A record id or a link id: an int in the 64-bit range (the staging layer casts link ids to bigint)."""
    if type(value) is int:
        if BIGINT_MIN <= value <= BIGINT_MAX:
            return value
        raise ValueError(f"integer {value} is outside the 64-bit range")
    raise TypeError(f"expected an integer id, got {type(value).__name__} {value!r:.80}")


def to_bigint(value: Any) -> int:
    """BIGINT: ints, and floats or numeric strings that hold exactly an integer (see the module docstring)."""
    if type(value) is float:
        if not value.is_integer():
            raise TypeError(f"expected an integer, got float {value!r:.80}")
        return to_id(int(value))
    if type(value) is str and _NUMBER.match(value):
        number = decimal.Decimal(value)
        if number.adjusted() > 19:   # before int(): '1e999999999' would build a huge integer
            raise ValueError(f"the string {value!r:.80} is outside the 64-bit range")
        if number != number.to_integral_value():
            raise TypeError(f"expected an integer, got the string {value!r:.80}")
        return to_id(int(number))
    if type(value) is not int:
        raise TypeError(f"expected an integer, got {type(value).__name__} {value!r:.80}")
    return to_id(value)


def to_double(value: Any) -> float:
    """DOUBLE: finite floats, ints a double holds exactly, numeric strings whose double reads back equal."""
    if type(value) is float:
        if math.isfinite(value):
            return value
        raise ValueError(f"{value!r} is not a finite number")
    if type(value) is int:
        try:
            result = float(value)
        except OverflowError:
            raise ValueError(f"integer {value!r:.80} is too large for a double") from None
        if int(result) != value:
            raise ValueError(f"integer {value!r:.80} cannot be stored exactly as a double")
        return result
    if type(value) is str and _NUMBER.match(value):
        result = float(value)
        if math.isfinite(result) and decimal.Decimal(repr(result)) == decimal.Decimal(value):
            return result
        raise ValueError(f"the string {value!r:.80} cannot be stored exactly as a double")
    raise TypeError(f"expected a number, got {type(value).__name__} {value!r:.80}")


_BOOL_STRINGS = {"true": True, "false": False}


def to_boolean(value: Any) -> bool:
    """BOOLEAN: bools, and the strings 'true'/'false' in any case."""
    if type(value) is bool:
        return value
    if type(value) is str and value.lower() in _BOOL_STRINGS:
        return _BOOL_STRINGS[value.lower()]
    raise TypeError(f"expected true/false, got {type(value).__name__} {value!r:.80}")


def to_date(value: Any) -> dt.date:
    """DATE: SG's 'YYYY-MM-DD' strings (and date objects)."""
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
    try:
        return value.astimezone(UTC)
    except OverflowError:   # year 1 at +01:00, year 9999 at -01:00: no UTC instant a warehouse holds
        raise ValueError(f"{value.isoformat()} is outside the range of UTC timestamps") from None


def json_object(value: Any) -> Any:
    """JSON for writers that hand Python objects to SQLAlchemy's JSON type: checked and normalised by
    :func:`json_text` (datetimes as ISO strings), so every dialect stores the same document."""
    return json.loads(json_text(value))


def link(value: Any) -> tuple[int, str]:
    """An entity link ``{'type', 'id'}`` as (id, type)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an entity link {{'type', 'id'}}, got {type(value).__name__} {value!r:.80}")
    if type(value["type"]) is not str:
        raise TypeError(f"entity link type must be a string, got {value['type']!r:.80}")
    return to_id(value["id"]), _storable(value["type"])


_int_repr = int.__repr__


def links(value: Any) -> tuple[str | None, str | None]:
    """A multi-entity list as comma-separated ids and aligned types, in SG's order; an empty list is NULL
    in both columns. Ids must be ints in the 64-bit range (the bridges cast them to bigint)."""
    if type(value) is not list:
        raise TypeError(f"expected a list of entity links, got {type(value).__name__} {value!r:.80}")
    if not value:
        return None, None
    if not all(isinstance(v, Mapping) for v in value):
        raise TypeError(f"expected a list of entity links, got {value!r:.80}")
    ids = [v["id"] for v in value]
    types = [v["type"] for v in value]
    if set(map(type, ids)) != {int}:
        raise TypeError(f"entity link ids must be integers, got {value!r:.80}")
    if min(ids) < BIGINT_MIN or max(ids) > BIGINT_MAX:
        raise ValueError(f"an entity link id in {value!r:.80} is outside the 64-bit range")
    if set(map(type, types)) != {str}:
        raise TypeError(f"entity link types must be strings, got {value!r:.80}")
    joined = ",".join(types)
    if joined.count(",") != len(value) - 1:
        raise ValueError(f"an entity type in {joined!r:.80} contains a comma")
    return ",".join(map(_int_repr, ids)), _storable(joined)
