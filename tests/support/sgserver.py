"""A stand-in SG site over HTTP, for tests that run the real ``sg2dbt`` process against a "live" site.

It speaks the JSON-RPC that ``shotgun_api3.Shotgun`` sends to ``/api3/json`` (``info``, ``read``,
``schema_read``, ``schema_entity_read``), answers from a Mockgun instance, checks the script key like a real
site (``error_code`` 102 on a wrong one), and injects faults on chosen ``read`` calls: HTTP 502/503, a
dropped connection, or a reply slower than the client's timeout. With ``html=True`` it answers every call
with an HTML page and status 200, as a proxy's login or maintenance page does.
"""

from __future__ import annotations

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
                 slow_seconds: float = 3.0, html: bool = False) -> None:
        self.sg = sg
        self.html = html
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

    def call(self, method: str, params: list[Any]) -> dict[str, Any]:
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
            reply = json.dumps(site.call(method, body.get("params", [])), default=_outbound).encode()
            self._send(200, reply, "application/json")

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
