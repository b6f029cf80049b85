"""Run the sg2dbt CLI in this process against a Mockgun site that behaves like a real one about secrets.

Usage: ``python tests/support/canary_site.py <sg2dbt arguments>``, environment:

* ``CANARY_SITE_KEY``: the only API key the site accepts. Any other key raises ``AuthenticationFault``
  whose message quotes the key it was given, as a careless server or library might.
* ``CANARY_SITE_FAIL=1``: every ``find`` and ``schema_read`` first logs the connection's settings (key
  included) as a WARNING on the ``shotgun_api3`` logger, then raises a ``Fault`` that quotes the key: the
  worst a dependency does.

``shotgun_api3.Shotgun`` is replaced by a factory returning one seeded Mockgun (Mockgun keeps its records in
memory, so every worker must share it); like a real connection it holds the key in ``config.api_key``.
Everything else is the real CLI: :func:`sg2dbt.cli.main`, as the console script runs it.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import shotgun_api3
from shotgun_api3.lib import mockgun

from sg2dbt.cli import main
from sg2dbt.schema import sources
from tests.conftest import REAL_ENTITY_PICKLE, REAL_SCHEMA_PICKLE
from tests.support.sgsite import seed_mockgun

ENTITIES = ("Project", "Shot", "Asset")


@functools.cache
def _site() -> Any:
    mockgun.Shotgun.set_schema_paths(str(REAL_SCHEMA_PICKLE), str(REAL_ENTITY_PICKLE))
    sg = mockgun.Shotgun("https://canary.example.com", "canary", "unused")
    schema = sources.from_mockgun_pickles(REAL_SCHEMA_PICKLE, REAL_ENTITY_PICKLE).filtered(only=ENTITIES)
    for entity in ENTITIES:
        seed_mockgun(sg, schema, entity, range(1, 31))
    return sg


def _failing(method: str, key: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        logging.getLogger("shotgun_api3.shotgun").warning("rpc params %s", {"script_name": "canary", "script_key": key})
        raise shotgun_api3.Fault(f"API {method}() failed for script_key={key}: internal error")
    return call


def fake_shotgun(base_url: str, script_name: str | None = None, api_key: str | None = None, **kw: Any) -> Any:
    secret = api_key or kw.get("password")
    if secret != os.environ["CANARY_SITE_KEY"]:
        raise shotgun_api3.AuthenticationFault(f"Authentication failed for {script_name!r} with key {secret!r}")
    sg = _site()
    sg.config.api_key, sg.config.script_name = api_key, script_name
    if os.environ.get("CANARY_SITE_FAIL"):
        sg.find, sg.schema_read = _failing("find", secret), _failing("schema_read", secret)
    return sg


if __name__ == "__main__":
    shotgun_api3.Shotgun = fake_shotgun  # type: ignore[misc]
    main(sys.argv[1:])
