"""Issue 10 end to end: ``sg2dbt sync`` keeps a warehouse equal to a changing site, on DuckDB and PostgreSQL.

The site (Mockgun behind the HTTP stand-in, with an event log like a real site) goes through creates, updates,
changes across entities, a back-reference change, retirements, revivals, a custom field and a custom entity
added, a field removed, and a script that makes no events. After each ``sg2dbt sync`` the raw tables equal the
site field by field; nothing is run by hand in between (no migrate, no build, no load).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from tests.loader.test_load import assert_tables_match_site
from tests.sync.conftest import KEY, Site, write_config

pytestmark = pytest.mark.slow


def _sync(cli: Any, config: Path, *args: str) -> dict[str, Any]:
    code, out, err = cli("--config", str(config), "sync", "--json", *args)
    assert code == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _match(engine: sa.Engine, site: Site, raw: str) -> None:
    assert_tables_match_site(engine, site.layout(), raw, site.sg)
    engine.dispose()   # DuckDB: dbt, run by the next sync in this process, opens the file with its own settings


def _columns(engine: sa.Engine, raw: str, table: str) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.text(
            "select column_name from information_schema.columns where table_schema = :s and table_name = :t"),
            {"s": raw, "t": table}).scalars())


def test_sync_follows_the_site(site: Site, warehouse: tuple[sa.Engine, str, str], tmp_path: Path, cli: Any,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    engine, url, raw = warehouse
    monkeypatch.setenv("SYNC_TEST_KEY", KEY)
    monkeypatch.setenv("SG2DBT_SCHEMA", f"{raw}_stg")     # the staging views' schema
    adapter = "postgres" if engine.dialect.name == "postgresql" else "duckdb"
    config = write_config(tmp_path, site.url, url, raw, dbt_build="changed")
    doc = yaml.safe_load(config.read_text())
    doc["dbt"] = {"project_dir": "analytics", "adapter": adapter}
    config.write_text(yaml.safe_dump(doc))
    s = site.site

    # First sync: every entity in full, the event cursor at the newest event.
    first = _sync(cli, config)
    assert first["failed"] == 0 and first["event_cursor"] == s.newest_event()
    assert first["dbt"] == {"success": True, "select": "all", "error": None}     # the new project, built once
    _match(engine, site, raw)

    # Creates, updates, several entities at once, a back-reference, a retirement, a revival.
    s.create("Shot", {"code": "sh_new", "project": {"type": "Project", "id": 1}})
    s.update("Shot", 5, {"code": "renamed", "description": "changed"})
    s.update("Asset", 2, {"code": "asset two"})
    s.update("Task", 6, {"entity": {"type": "Shot", "id": 7}, "content": "moved"})
    s.create("ShotShotConnection", {"shot": {"type": "Shot", "id": 1}, "parent_shot": {"type": "Shot", "id": 2}})
    s.retire("Shot", 8)
    s.revive("Shot", 3)
    s.retire("Asset", 9)
    second = _sync(cli, config)
    assert second["failed"] == 0 and second["events"] >= 8 and second["lag_events"] == 0
    assert {e["entity"] for e in second["entities"]} >= {"Asset", "Shot", "ShotShotConnection", "Task"}
    _match(engine, site, raw)

    # Nothing changed: nothing written.
    idle = _sync(cli, config)
    assert idle["rows"] == 0 and idle["events"] == 0 and idle["entities"] == [], idle
    assert idle["dbt"] is None                            # no schema change: the views need no rebuild

    # The schema changes on the site: a custom field, a custom entity, a field removed.
    s.add_field("Shot", "sg_vendor", "text")
    s.update("Shot", 1, {"sg_vendor": "ACME"})
    s.add_entity("CustomEntity05", *site.later["CustomEntity05"])
    s.create("CustomEntity05", {"code": "ep01"})
    s.remove_field("Asset", "description")
    third = _sync(cli, config)
    assert third["failed"] == 0, third
    assert any("sg_vendor" in line for line in third["schema"]["applied"]), third["schema"]
    assert "sg_vendor" in _columns(engine, raw, "shot")
    assert "description" in _columns(engine, raw, "asset")    # kept (the default policy)
    engine.dispose()
    _match(engine, site, raw)
    assert third["dbt"]["success"] and "source:shotgrid.shot+" in third["dbt"]["select"], third["dbt"]
    with engine.connect() as conn:                        # the staging view shows the new field
        assert conn.execute(sa.text(f'select sg_vendor from "{raw}_stg".stg_shotgrid__shot where shot_id = 1')
                            ).scalar_one() == "ACME"
        assert conn.execute(sa.text(f'select count(*) from "{raw}_stg".stg_shotgrid__custom_entity05')
                            ).scalar_one() == 1
    engine.dispose()

    # A script with event generation off: only the updated_at scan sees its change.
    s.events = False
    s.update("Shot", 10, {"code": "quiet change"})
    assert _sync(cli, config)["rows"] == 0
    scanned = _sync(cli, config, "--scan-interval", "0")
    assert scanned["scanned"] and scanned["rows"] >= 1
    _match(engine, site, raw)

    # sg2dbt status: where each entity stands, from the warehouse alone.
    code, out, err = cli("--config", str(config), "status", "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["failed"] == 0 and status["lag_events"] == 0 and status["event_cursor"] == s.newest_event()
    assert status["last_scan"] is not None
    by_entity = {e["entity"]: e for e in status["entities"]}
    assert set(by_entity) == set(site.layout().tables)
    shot = by_entity["Shot"]
    assert (shot["rows_live"], shot["rows_retired"]) == (len(site.sg.find("Shot", [], ["id"])),
                                                         len(site.sg.find("Shot", [], ["id"], retired_only=True)))
    assert shot["mode"] == "scan:incremental" and shot["last_sync"] is not None
    code, out, err = cli("--config", str(config), "status")
    assert code == 0 and "lag 0 events" in out and "Shot" in out
