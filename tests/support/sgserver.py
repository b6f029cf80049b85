"""A stand-in SG site over HTTP, for tests that run the real ``sg2dbt`` process against a "live" site.

It speaks the JSON-RPC that ``shotgun_api3.Shotgun`` sends to ``/api3/json`` (``info``, ``read``,
``schema_read``, ``schema_entity_read``), answers from a Mockgun instance, checks the script key like a real
site (``error_code`` 102 on a wrong one), and injects faults on chosen ``read`` calls: HTTP 502/503, a
dropped connection, or a reply slower than the client's timeout. With ``html=True`` it answers every call
with an HTML page and status 200, as a proxy's login or maintenance page does. ``latency`` delays every reply
(a real site answers in ~150 ms); ``requests`` counts the calls served, by method.

Changes made through :meth:`StandInSite.create`, :meth:`~StandInSite.update`, :meth:`~StandInSite.retire` and
:meth:`~StandInSite.revive` move ``updated_at`` and write EventLogEntry records the way a real site does
(SPEC field notes): ``Shotgun_<Entity>_<New|Change|Retirement|Revival>`` with ``meta.entity_type`` /
``entity_id``, a back-reference ``Change`` on the linked record for an entity link, and the ``entity`` link of
every event of a record nulled once it is retired. ``events = False`` is a script with event generation
turned off: its changes make no events. :meth:`add_field` and :meth:`add_entity` change the schema the site
serves (with a ``Shotgun_DisplayColumn_New`` event), :meth:`remove_field` takes a field away.
"""

from __future__ import annotations

import collections
import copy
import datetime as dt
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

UTC = dt.timezone.utc
_SG_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _inbound(value: Any) -> Any:
    """Filter values as the site sees them: shotgun_api3 sends datetimes as 'YYYY-MM-DDTHH:MM:SSZ'."""
    if isinstance(value, str) and _SG_DATETIME.match(value):
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if isinstance(value, list):
        return [_inbound(v) for v in value]
    if isinstance(value, dict):
        return {k: _inbound(v) for k, v in value.items()}
    return value


def _outbound(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    raise TypeError(type(value).__name__)


class StandInSite:
    """``faults`` maps the n-th ``read`` call (1-based) to "502", "503", "drop" or "slow"."""

    def __init__(self, sg: Any, *, script: str, key: str, faults: dict[int, str] | None = None,
                 slow_seconds: float = 3.0, html: bool = False, latency: float = 0.0) -> None:
        self.sg = sg
        self.html = html
        # Mockgun shares one cached schema between instances: this site changes its own copy.
        sg._schema, sg._schema_entity = copy.deepcopy(sg._schema), copy.deepcopy(sg._schema_entity)
        self.latency = latency
        self.events = True
        self.requests: collections.Counter[str] = collections.Counter()
        self.script = script
        self.key = key
        self.faults = dict(faults or {})
        self.slow_seconds = slow_seconds
        self.reads = 0
        self.faults_served: list[str] = []
        self.lock = threading.Lock()

    def fault_for_read(self) -> str | None:
        with self.lock:
            self.reads += 1
            fault = self.faults.pop(self.reads, None)
            if fault:
                self.faults_served.append(fault)
            return fault

    # -- changes made on the site ------------------------------------------------------------------------------

    def _now(self) -> dt.datetime:
        return dt.datetime.now(UTC).replace(microsecond=0)

    def _event(self, entity: str, rid: int, kind: str, meta: dict[str, Any]) -> int | None:
        if not self.events:
            return None
        row = self.sg._get_new_row("EventLogEntry")
        eid = max(self.sg._db["EventLogEntry"], default=0) + 1
        row.update(id=eid, event_type=f"Shotgun_{entity}_{kind}", created_at=self._now(),
                   entity={"type": entity, "id": rid} if entity in self.sg._db else None,
                   attribute_name=meta.get("attribute_name"), description=f"{kind} {entity} {rid}",
                   meta={"entity_type": entity, "entity_id": rid, **meta})
        self.sg._db["EventLogEntry"][eid] = row
        return eid

    def _links(self, entity: str, rid: int, data: dict[str, Any], event: int | None) -> None:
        """A back-reference change on each record an entity link now points at."""
        for name, value in data.items():
            spec = self.sg._schema[entity].get(name, {})
            if spec.get("data_type", {}).get("value") == "entity" and isinstance(value, dict) and event:
                self._event(value["type"], value["id"], "Change", {
                    "type": "attribute_change", "attribute_name": f"{entity.lower()}_{name}_backref",
                    "original_event_log_entry_id": event})

    def create(self, entity: str, data: dict[str, Any]) -> int:
        with self.lock:
            db = self.sg._db[entity]
            rid = int(data.get("id") or max(db, default=0) + 1)
            row = self.sg._get_new_row(entity)
            row.update(data, id=rid, type=entity)
            for stamp in ("created_at", "updated_at"):
                if stamp in self.sg._schema[entity]:
                    row[stamp] = self._now()
            db[rid] = row
            event = self._event(entity, rid, "New", {"type": "new_entity"})
            self._links(entity, rid, data, event)
            return rid

    def update(self, entity: str, rid: int, data: dict[str, Any]) -> None:
        with self.lock:
            row = self.sg._db[entity][rid]
            row.update(data)
            if "updated_at" in self.sg._schema[entity]:
                row["updated_at"] = self._now()
            event = None
            for name, value in data.items():
                event = self._event(entity, rid, "Change", {"type": "attribute_change", "attribute_name": name,
                                                            "new_value": value if not isinstance(value, dt.datetime)
                                                            else value.isoformat()})
            self._links(entity, rid, data, event)

    def retire(self, entity: str, rid: int) -> None:
        with self.lock:
            self.sg._db[entity][rid]["__retired"] = True
            self._event(entity, rid, "Retirement", {"type": "entity_retirement"})
            for ev in self.sg._db["EventLogEntry"].values():   # a retired record's events read with entity null
                if ev.get("entity") == {"type": entity, "id": rid}:
                    ev["entity"] = None

    def revive(self, entity: str, rid: int) -> None:
        with self.lock:
            self.sg._db[entity][rid]["__retired"] = False
            self._event(entity, rid, "Revival", {"type": "entity_revival"})

    def add_field(self, entity: str, name: str, data_type: str, *, like: tuple[str, str] = ("Shot", "code")) -> None:
        """A custom field created on the site (its spec copied from an existing field, retyped)."""
        with self.lock:
            spec = copy.deepcopy(self.sg._schema[like[0]][like[1]])
            spec["data_type"]["value"] = data_type
            spec["entity_type"]["value"] = entity
            spec["name"]["value"] = name.replace("sg_", "").replace("_", " ").title()
            spec["mandatory"]["value"] = False
            self.sg._schema[entity][name] = spec
            for row in self.sg._db[entity].values():
                row.setdefault(name, None)
            self._event("DisplayColumn", 0, "New", {"type": "new_entity", "entity_type": "DisplayColumn",
                                                     "field": name, "field_entity_type": entity})

    def remove_field(self, entity: str, name: str) -> None:
        with self.lock:
            del self.sg._schema[entity][name]
            for row in self.sg._db[entity].values():
                row.pop(name, None)

    def add_entity(self, entity: str, schema: dict[str, Any], display: dict[str, Any]) -> None:
        """A custom entity enabled on the site: its ``schema_read`` fields and ``schema_entity_read`` entry."""
        with self.lock:
            self.sg._schema[entity] = copy.deepcopy(schema)
            self.sg._schema_entity[entity] = copy.deepcopy(display)
            self.sg._db.setdefault(entity, {})

    def drop_entity(self, entity: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Take an entity off the site (for a test to add it back later); returns its two schema entries."""
        with self.lock:
            self.sg._db.pop(entity, None)
            return self.sg._schema.pop(entity), self.sg._schema_entity.pop(entity)

    def newest_event(self) -> int:
        return max(self.sg._db["EventLogEntry"], default=0)

    # -- the JSON-RPC API ---------------------------------------------------------------------------------------

    def call(self, method: str, params: list[Any]) -> dict[str, Any]:
        with self.lock:
            self.requests[method] += 1
        if self.latency:
            time.sleep(self.latency)
        if method == "info":
            return {"results": {"version": [9, 0, 0], "full_version": [9, 0, 0, 0],
                                "user_authentication_method": "default"}}
        auth = params[0] if params else {}
        if auth.get("script_name") != self.script or auth.get("script_key") != self.key:
            return {"exception": True, "error_code": 102,
                    "message": f"Can't authenticate script '{auth.get('script_name')}'"}
        with self.lock:
            if method == "schema_read":
                return {"results": self.sg.schema_read()}
            if method == "schema_entity_read":
                return {"results": self.sg.schema_entity_read()}
            if method == "read":
                return {"results": self._read(params[1])}
        return {"exception": True, "error_code": 103, "message": f"unknown method {method}"}

    def reply(self, method: str, params: list[Any]) -> bytes:
        """The body of the answer to one call (a subclass may encode it more cheaply, never differently)."""
        return json.dumps(self.call(method, params), default=_outbound).encode()

    def _read(self, p: dict[str, Any]) -> dict[str, Any]:
        filters = _inbound(p["filters"])
        records = self.sg.find(p["type"], filters, p["return_fields"], order=[
            {"field_name": s["field_name"], "direction": s["direction"]} for s in p.get("sorts", [])],
            retired_only=p.get("return_only") == "retired")
        per_page = p["paging"]["entities_per_page"]
        page = p["paging"]["current_page"]
        chunk = records[(page - 1) * per_page: page * per_page]
        return {"entities": chunk, "paging_info": {"entity_count": len(records),
                                                   "has_next_page": page * per_page < len(records)}}


def _handler(site: StandInSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:   # keep test output clean
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if site.html:
                self._send(200, b"<!DOCTYPE html><html><body><h1>Scheduled maintenance</h1></body></html>",
                           "text/html; charset=utf-8")
                return
            method = body["method_name"]
            fault = site.fault_for_read() if method == "read" else None
            if fault == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if fault == "slow":
                time.sleep(site.slow_seconds)
            if fault in ("502", "503"):
                self._send(int(fault), b"unavailable")
                return
            self._send(200, site.reply(method, body.get("params", [])), "application/json")

        def _send(self, status: int, payload: bytes, ctype: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def serve(site: StandInSite) -> Iterator[str]:
    """Run the site on a free local port; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
