"""shotgun_api3's private reply handling, replaced on each connection by steps that give the same answers
faster (installed by :func:`sg2dbt.schema.connect.connect`; each is compared with shotgun_api3's own on
generated input in tests/schema/test_replies.py).

A reply goes through four of shotgun_api3's steps, one after another on the thread using the connection:
``_http_request`` (the bytes), ``_json_loads`` (the body decoded), ``_transform_inbound`` (every datetime
string of it made a datetime) and, for records, ``_parse_records`` (``&lt;`` back to ``<`` in their
strings, the URL of a local file link, a thumbnail URL from a server older than 3.3). For a page of 500 wide
records each of the last three walks every value in Python, and together they were most of the loader's CPU
on a live site (bench/bench_live.py). Here the body is decoded by orjson where its answer is ``json``'s
(core/jsonread.py), and the raw body, read once with C-speed searches, says what the walks can skip: how
many of its strings can be datetimes (each ends in ``Z"`` or ``z"``: shotgun_api3's parse ignores case), and
whether any ``&lt;`` or local file link can be in it at all.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Any

from sg2dbt.core import jsonread

_SG_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
# \u escapes of the characters of "&lt;", of "local" and of the Z or z a datetime ends with: a body without
# them cannot decode to "&lt;" or "local" unless it holds the literal words, nor to a datetime string that
# does not end in Z" or z" in the body.
_SPELLED_OUT = re.compile(rb"\\u00(?:26|6[cCfF]|74|3[bB]|63|61|[57][aA])")


class Replies:
    """One connection's reply steps, and what the body just decoded says about the ones that follow."""

    def __init__(self, sg: Any) -> None:
        self.sg = sg
        self.pattern = sg._DATE_TIME_PATTERN
        self.utc: dt.tzinfo | None = None
        self.decoded: tuple[Any, int] | None = None   # (what the last body decoded to, its strings ending in Z)
        self.plain: bool | None = None   # no body since the last _parse_records held "&lt;" or a local link

    def json_loads(self, body: bytes | str) -> Any:
        result = jsonread.loads(body)
        if isinstance(body, bytes) and _SPELLED_OUT.search(body) is None:
            stamps = body.count(b'Z"') + body.count(b'z"')
            plain = b"&lt;" not in body and b'"local"' not in body
        else:
            stamps, plain = -1, False
        self.decoded = (result, stamps)
        self.plain = plain if self.plain is None else self.plain and plain
        return result

    # -- _transform_inbound ----------------------------------------------------------------------------------

    def transform(self, data: Any) -> Any:
        """Every datetime string of the reply made a datetime, in place: 20 characters matching shotgun_api3's
        pattern that its parse accepts (one that only looks like a datetime stays a string), aware in UTC (the
        same instant shotgun_api3 gives in the machine's zone; naive UTC when ``convert_datetimes_to_utc`` is
        off, as it does).

        A page of records is looked at only in the fields where its first record holds datetimes; that is
        enough when the datetimes converted there are as many as the body's strings ending in ``Z"`` or ``z"``
        (every string shotgun_api3's parse accepts ends so: its format ignores case): then no other string of
        the reply can be one. Any other count, and the whole reply is walked."""
        self.utc = dt.timezone.utc if self.sg.config.convert_datetimes_to_utc else None
        decoded, self.decoded = self.decoded, None
        if decoded is not None and decoded[0] is data and decoded[1] >= 0 and self._page(data, decoded[1]):
            return data
        return self._walk(data)

    def _page(self, data: Any, stamps: int) -> bool:
        """The datetimes of a page of records converted, and whether that provably converted all of them."""
        if stamps == 0:
            return True
        results = data.get("results") if type(data) is dict else None
        records = results.get("entities") if type(results) is dict else None
        if type(records) is not list or not records or type(records[0]) is not dict:
            return False
        match, parse, converted = self.pattern.match, self._parse, 0
        keys = [k for k, v in records[0].items() if type(v) is str and len(v) == 20 and match(v)]
        for rec in records:
            if type(rec) is not dict:
                return False
            for key in keys:
                value = rec.get(key)
                if type(value) is str and len(value) == 20 and match(value):
                    stamp = parse(value)
                    if stamp is not value:
                        rec[key] = stamp
                        converted += 1
        return converted == stamps

    def _parse(self, text: str) -> Any:
        try:
            if _SG_DATETIME.fullmatch(text):   # the form SG sends: the fields read by position
                return dt.datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
                                   int(text[14:16]), int(text[17:19]), tzinfo=self.utc)
            # anything else shotgun_api3's looser pattern lets through: its own parse decides
            return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=self.utc)
        except ValueError:
            return text   # as shotgun_api3: a string that only looks like a datetime stays a string

    def _walk(self, value: Any) -> Any:
        kind = type(value)
        if kind is dict or kind is list:
            pairs = value.items() if kind is dict else enumerate(value)
            for key, item in pairs:
                sort = type(item)
                if sort is str:
                    if len(item) == 20 and self.pattern.match(item):
                        value[key] = self._parse(item)
                elif sort is dict or sort is list or sort is tuple:
                    value[key] = self._walk(item)
            return value
        if kind is tuple:
            return tuple(self._walk(item) for item in value)
        if kind is str and len(value) == 20 and self.pattern.match(value):
            return self._parse(value)
        return value

    # -- _parse_records --------------------------------------------------------------------------------------

    def parse_records(self, records: Any) -> Any:
        """shotgun_api3's ``_parse_records``, skipped where it provably changes nothing: every body decoded
        since the last call (the records of a ``find`` come from them) held no ``&lt;`` and no local file
        link, and the server is known to be 3.3 or newer (no thumbnail URLs to build)."""
        plain, self.plain = self.plain, None
        caps = getattr(self.sg, "_server_caps", None)
        if plain and caps is not None and caps.version and caps.version >= (3, 3, 0):
            if not records:
                return []
            return records if isinstance(records, (list, tuple)) else [records]
        return type(self.sg)._parse_records(self.sg, records)


def http_request(sg: Any) -> Callable[..., Any]:
    """shotgun_api3's ``_http_request`` without its eager debug formatting.

    shotgun_api3 formats the request and the whole reply body into debug messages (``"..." % body``) before
    the logger decides to drop them: for a page of 500 records that is the repr of 800 KB, on every request,
    at any log level. Here the same request is made and the same triple returned; the messages are built
    only when shotgun_api3's logger is open (``sg2dbt -vv``), and then the original runs.
    """
    import urllib.parse

    import shotgun_api3

    original = sg._http_request
    debug = shotgun_api3.shotgun.LOG.isEnabledFor

    def send(verb: str, path: str, body: Any, headers: dict[str, Any]) -> tuple[Any, Any, Any]:
        if debug(logging.DEBUG):
            return original(verb, path, body, headers)
        url = urllib.parse.urlunparse((sg.config.scheme, sg.config.server, path, None, None, None))
        resp, content = sg._get_connection().request(url, method=verb, body=body, headers=headers)
        return (resp.status, resp.reason), {k.lower(): v for k, v in resp.items()}, content

    return send


def install(sg: Any, *, datetimes: bool = True) -> None:
    """Replace the steps on ``sg``; ``datetimes`` False keeps shotgun_api3's own datetime transform (local
    time, for a connection handed to a user)."""
    steps = Replies(sg)
    sg._http_request = http_request(sg)
    sg._json_loads = steps.json_loads if datetimes else jsonread.loads
    sg._parse_records = steps.parse_records
    if datetimes:
        sg._transform_inbound = steps.transform
