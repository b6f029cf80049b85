"""Schema changes ``sg2dbt sync`` must not apply on its own: a changed type is held (the column keeps its type
and data, the field is not synced, one warning names it, exit status 2) while every other change still syncs;
a removed field is dropped only under ``schema_changes.removed: drop``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.sync.conftest import KEY, Site, write_config

pytestmark = pytest.mark.slow


def _columns(engine: sa.Engine, raw: str, table: str) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select column_name, data_type from information_schema.columns "
                                    "where table_schema = :s and table_name = :t"), {"s": raw, "t": table})
        return {str(name): str(kind).lower() for name, kind in rows}


def test_type_change_held_while_the_rest_syncs_then_drop_policy(site: Site, warehouse: tuple[sa.Engine, str, str],
                                                                tmp_path: Path, cli: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    engine, url, raw = warehouse
    monkeypatch.setenv("SYNC_TEST_KEY", KEY)
    config = write_config(tmp_path, site.url, url, raw)
    code, out, err = cli("--config", str(config), "sync", "--json")
    assert code == 0, err
    with engine.connect() as conn:
        cut_in = conn.execute(sa.text(f'select sg_cut_in from "{raw}".shot where id = 5')).scalar_one()
    before = _columns(engine, raw, "shot")["sg_cut_in"]
    engine.dispose()

    # sg_cut_in becomes a float on the site; meanwhile an ordinary change is made.
    site.sg._schema["Shot"]["sg_cut_in"]["data_type"]["value"] = "float"
    site.site.update("Shot", 5, {"sg_cut_in": 12.5, "code": "still synced"})
    code, out, err = cli("--config", str(config), "sync", "--json")
    assert code == 2
    warnings = [line for line in err.splitlines() if line.startswith("sg2dbt: warning:")]
    assert len(warnings) == 1 and "sg_cut_in" in warnings[0] and "Shot.sg_cut_in" in warnings[0]
    assert "sg2dbt migrate --allow-destructive" in warnings[0]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["failed"] == 0 and summary["schema"]["applied"] == []
    assert _columns(engine, raw, "shot")["sg_cut_in"] == before       # type and data kept
    with engine.connect() as conn:
        row = conn.execute(sa.text(f'select code, sg_cut_in from "{raw}".shot where id = 5')).one()
    assert tuple(row) == ("still synced", cut_in)
    engine.dispose()

    # A field removed from the site, under the drop policy: its column goes; the held column stays.
    del site.sg._schema["Shot"]["sg_shotnumber"]
    code, out, err = cli("--config", str(config), "sync", "--json", "--removed", "drop")
    assert code == 2, err          # the type change is still held
    summary = json.loads(out.strip().splitlines()[-1])
    assert any("sg_shotnumber" in line for line in summary["schema"]["applied"])
    columns = _columns(engine, raw, "shot")
    assert "sg_shotnumber" not in columns and "sg_cut_in" in columns
