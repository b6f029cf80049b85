"""JSON text read as ``json.loads`` reads it, through orjson (about twice as fast) wherever the answer is the same.

One reader for every JSON text the loader takes in: a site's reply bodies (schema/replies.py) and a dump's
records (loader/reader.py). orjson refuses what ``json`` accepts beyond strict JSON (NaN, Infinity, a lone
surrogate, a number beyond a double, a byte order mark); refused, the text goes to ``json``, which answers or
raises with its own message. The one input orjson reads differently is an integer beyond 64 bits, which it
turns into a float: a text with a run of 19 digits anywhere (every integer orjson could round has one) goes
to ``json`` without asking orjson (``translate`` finds the run ten times faster than a regular expression).

Nesting: orjson reads up to 1,024 levels. ``json``'s limit is Python's recursion limit, less the caller's
stack, and differs between Python versions; a text nested between the two is read here where ``json`` may
raise RecursionError, and its values then meet the value rules as any other (a JSON field is stored or
refused by its rule, naming entity, id and field).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


def loads(text: bytes | str) -> Any:
    """``json.loads(text)``: the same value, or the same error, through orjson where it reads the same."""
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    if _LONG_NUMBER not in data.translate(_DIGITS_AS_ZERO):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)
