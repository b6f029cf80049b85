"""A live-looking site for the sync tests: Mockgun with the real schema behind the HTTP stand-in, with an
event log, and an sg2dbt.yml that points ``sg2dbt sync`` at it and at a warehouse."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sg2dbt.core.layout import RawLayout, plan
from sg2dbt.schema.sources import from_connection
from tests.support.sgserver import StandInSite, serve
from tests.support.sgsite import seed_mockgun

ENTITIES = ["Asset", "CustomEntity05", "Project", "Shot", "ShotShotConnection", "Task"]
SCRIPT, KEY = "sync-test", "sync-FAKE-key-0a1b2c"
N = 20


@dataclass
class Site:
    site: StandInSite
    url: str
    later: dict[str, tuple[dict[str, Any], dict[str, Any]]]   # entities taken off, to add back

    @property
    def sg(self) -> Any:
        return self.site.sg

    def layout(self) -> RawLayout:
        """The raw layout of the selection as the site has it now."""
        return plan(from_connection(self.sg).filtered(only=ENTITIES))


@pytest.fixture
def site(real_schema_pickles: tuple[Path, Path]) -> Iterator[Site]:
    from shotgun_api3.lib.mockgun import Shotgun

    Shotgun.set_schema_paths(*(str(p) for p in real_schema_pickles))
    sg = Shotgun("https://mock.example.com", SCRIPT, KEY)
    stand_in = StandInSite(sg, script=SCRIPT, key=KEY)
    later = {"CustomEntity05": stand_in.drop_entity("CustomEntity05")}
    schema = from_connection(sg).filtered(only=ENTITIES)
    for entity in schema:
        seed_mockgun(sg, schema, entity.name, range(1, N + 1))
    for rid in (3, 4):
        sg.delete("Shot", rid)
    with serve(stand_in) as url:
        yield Site(stand_in, url, later)


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[sa.Engine, str, str]]:
    """(engine, URL, raw schema)."""
    if request.param == "postgresql":
        engine = request.getfixturevalue("pg_engine")
        raw = f"raw_{uuid.uuid4().hex[:10]}"
        yield engine, engine.url.render_as_string(hide_password=False), raw
        with engine.begin() as conn:
            conn.execute(sa.text(f'drop schema if exists "{raw}" cascade'))
            conn.execute(sa.text(f'drop schema if exists "{raw}_stg" cascade'))
        return
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    engine = sa.create_engine(url)
    yield engine, url, "raw"
    engine.dispose()


def write_config(directory: Path, site_url: str, db_url: str, raw_schema: str, **sync: Any) -> Path:
    import yaml

    doc = {"site": {"url": site_url, "script": SCRIPT, "api_key_env": "SYNC_TEST_KEY"},
           "warehouse": {"url": db_url, "raw_schema": raw_schema},
           "selection": {"entities": ENTITIES},
           "sync": {"lock_timeout": 5, "workers": 2, "dbt_build": "none", **sync}}
    path = directory / "sg2dbt.yml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def sync_process(config: Path, *args: str, hold_after: int | None = None, held: Path | None = None) -> Any:
    """``sg2dbt --config CONFIG sync ARGS`` in a real subprocess, optionally held inside its transaction after
    ``hold_after`` pages (tests/support/crashhold)."""
    import os
    import subprocess

    from tests.support.crashhold import command, hold_env

    env = hold_env({**os.environ, "SYNC_TEST_KEY": KEY}, hold_after, held)
    return subprocess.Popen(command("--config", str(config), "sync", "--json", *args), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, proc: Any) -> None:
    """Until the held process has written ``path`` (it is then blocked in its transaction)."""
    import time

    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"sync ended before the hold point (status {proc.returncode}): {err}{out}")
        time.sleep(0.05)
